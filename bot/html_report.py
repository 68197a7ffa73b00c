"""``report.html``: a probe run as one self-contained page (no network, no external file), in
the reader's language: the run, the heat map and the double-standard chart, their tables,
and every answer behind every cell one click away.

Every text that comes from a model or the database is escaped (``html.escape``); the page's
only script opens the answers a link points at. Pictures are embedded as data URIs.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from typing import Any

from bot.i18n import t
from bot.present import reason_text, verdict_word
from bot.report import (
    FLAGGED,
    RunData,
    judged_count,
    planned_questions,
    share,
    topic_counts,
    verdict_of,
)

_CSS = """
body{font-family:system-ui,"Noto Sans","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1rem;margin-bottom:.3rem}
img{max-width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td.num{text-align:right;white-space:nowrap}
a.cell{color:inherit;text-decoration:none;display:block}
a.cell:hover,a.cell:focus{outline:2px solid #0072B2}
.v-answered{background:#cfe3f1}.v-refused{background:#f5cdb0}.v-evasive{background:#f8e2b5}
.v-degenerate{background:#e8e8e8}.v-error{background:#bbb}.v-missing{background:#fff}
details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
details:target,details.target{border-color:#0072B2;box-shadow:0 0 0 2px #0072B2}
summary{cursor:pointer;font-weight:600}
.answer{white-space:pre-wrap;font-size:.85rem;background:#fafafa;padding:.4rem;margin:.2rem 0}
.meta{color:#555;font-size:.8rem}
dl.run{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;font-size:.9rem}
dl.run dt{font-weight:600}
"""

_SCRIPT = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));if(!id)return;
var el=document.getElementById(id);if(!el)return;
var d=el.tagName==='DETAILS'?el:el.closest('details');
while(d){d.open=true;d=d.parentElement?d.parentElement.closest('details'):null;}
document.querySelectorAll('.target').forEach(function(x){x.classList.remove('target');});
el.classList.add('target');el.scrollIntoView();}
window.addEventListener('hashchange',openTarget);
document.addEventListener('DOMContentLoaded',openTarget);
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _slug(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in p) for p in parts)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def render_report(data: RunData, summ: dict[str, Any], lang: str, heatmap_png: bytes,
                  double_png: bytes) -> str:
    run = data.run
    topics = data.topic_order()
    counts = topic_counts(data)
    out: list[str] = []
    w = out.append
    w(f'<!DOCTYPE html><html lang="{_e(lang)}"><head><meta charset="utf-8">')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">')
    w(f"<title>{_e(t(lang, 'report_title', name=run['name']))}</title>")
    w(f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>")
    w(f"<h1>{_e(t(lang, 'report_title', name=run['name']))}</h1>")
    cells = summ["cells"]
    w('<dl class="run">')
    for key, value in (
            ("report_models", ", ".join(data.models)),
            ("report_languages", ", ".join(t(lang, "chart_language_" + x)
                                           for x in data.languages)),
            ("report_profile", run["profile"]),
            ("report_max_tokens", run["max_tokens"]),
            ("report_when", f"{run['created_at'][:16]} – {run['updated_at'][:16]} UTC"),
            ("report_status", t(lang, "report_status_" + str(run["status"]))),
            ("report_cells", t(lang, "report_cells_value", stored=cells["stored"],
                               planned=cells["planned"], errors=cells["errors"]))):
        w(f"<dt>{_e(t(lang, key))}</dt><dd>{_e(value)}</dd>")
    w("</dl>")
    w(f"<p class='meta'>{_e(t(lang, 'report_definitions'))}</p>")

    # -- the headline: flagged shares per model and language --------------------------
    w(f"<h2>{_e(t(lang, 'report_overview'))}</h2><table><tr><th>{_e(t(lang, 'report_model'))}"
      "</th>")
    for language in data.languages:
        w(f"<th>{_e(t(lang, 'chart_language_' + language))}: "
          f"{_e(t(lang, 'report_sensitive'))}</th>"
          f"<th>{_e(t(lang, 'chart_language_' + language))}: "
          f"{_e(t(lang, 'report_control'))}</th>")
    w(f"<th>{_e(t(lang, 'report_double_standards'))}</th></tr>")
    for model in data.models:
        w(f"<tr><th>{_e(model)}</th>")
        for language in data.languages:
            s = summ["models"][model][language]
            for key in ("sensitive_flagged_share", "control_flagged_share"):
                w(f'<td class="num">{_pct(s[key])}</td>')
        w(f'<td class="num"><a href="#{_slug("ds", model)}">'
          f"{summ['double_standards'][model]['count']}</a></td></tr>")
    w("</table>")

    # -- the heat map and its table ---------------------------------------------------
    w(f"<h2>{_e(t(lang, 'chart_heatmap_title'))}</h2>")
    w(_img(heatmap_png, t(lang, "chart_heatmap_title")))
    w(f"<p class='meta'>{_e(t(lang, 'report_click_cell'))}</p>")
    for language in data.languages:
        w(f"<h3>{_e(t(lang, 'chart_language_' + language))}</h3><table><tr>"
          f"<th>{_e(t(lang, 'report_topic'))}</th>")
        w("".join(f"<th>{_e(m)}</th>" for m in data.models) + "</tr>")
        for topic in topics:
            w(f"<tr><th>{_e(data.topic_label(topic, lang))}</th>")
            for model in data.models:
                c = counts.get((language, model, topic)) or Counter()
                value, judged = share(c), judged_count(c)
                flagged = sum(c[v] for v in FLAGGED)
                anchor = _slug("cell", language, model, topic)
                w(f'<td class="num"><a class="cell" href="#{anchor}">{_pct(value)}'
                  f' <span class="meta">({flagged}/{judged})</span></a></td>')
            w("</tr>")
        w("</table>")

    # -- the double standard ----------------------------------------------------------
    w(f"<h2>{_e(t(lang, 'chart_double_standard_title'))}</h2>")
    w(_img(double_png, t(lang, "chart_double_standard_title")))
    for model in data.models:
        items = summ["double_standards"][model]["questions"]
        w(f'<h3 id="{_slug("ds", model)}">{_e(t(lang, "chart_double_standard_model", model=model, n=len(items)))}</h3>')  # noqa: E501
        if not items:
            continue
        w("<table><tr><th>" + _e(t(lang, "report_question")) + "</th>"
          + "".join(f"<th>{_e(t(lang, 'chart_language_' + x))}</th>" for x in data.languages)
          + "</tr>")
        for item in items:
            qid = item["question"]
            w(f"<tr><td>{_e(data.question_text(qid, lang))}</td>")
            for language in data.languages:
                v = item["verdicts"][language]
                w(f'<td class="v-{_e(v)}"><a class="cell" href="#{_slug("a", qid, language, model)}">'  # noqa: E501
                  f"{_e(_verdict(lang, v))}</a></td>")
            w("</tr>")
        w("</table>")

    # -- every answer -----------------------------------------------------------------
    w(f"<h2>{_e(t(lang, 'report_answers'))}</h2>")
    by_topic: dict[str, list[str]] = {}
    for qid in planned_questions(data):
        by_topic.setdefault(data.topic_of(qid), []).append(qid)
    for language in data.languages:
        w(f"<details><summary>{_e(t(lang, 'chart_language_' + language))}</summary>")
        for topic in topics:
            for model in data.models:
                anchor = _slug("cell", language, model, topic)
                w(f'<details id="{anchor}"><summary>{_e(data.topic_label(topic, lang))} · '
                  f"{_e(model)}</summary>")
                for qid in by_topic.get(topic, []):
                    w(_answer(data, qid, language, model, lang))
                w("</details>")
        w("</details>")
    w(f"<p class='meta'>{_e(t(lang, 'report_footer'))}</p></body></html>")
    return "\n".join(out)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _verdict(lang: str, verdict: str) -> str:
    if verdict == "missing":
        return t(lang, "chart_missing")
    # the word, on the verdict's background colour (emoji squares need a font the reader may
    # not have)
    return verdict_word(lang, verdict)


def _answer(data: RunData, qid: str, language: str, model: str, lang: str) -> str:
    cell = data.cell(qid, language, model)
    verdict = verdict_of(cell)
    anchor = _slug("a", qid, language, model)
    head = (f'<div id="{anchor}" class="v-{_e(verdict)}" style="padding:.2rem .4rem">'
            f"<strong>{_e(_verdict(lang, verdict))}</strong> — "
            f"{_e(data.question_text(qid, language))}</div>")
    if cell is None:
        return head
    parts = [head]
    if cell.get("error"):
        parts.append(f"<div class='meta'>{_e(cell['error'])}</div>")
    reasons = "; ".join(reason_text(lang, r, 120) for r in cell.get("reasons") or [])
    if reasons:
        parts.append(f"<div class='meta'>{_e(t(lang, 'report_why'))}: {_e(reasons)}</div>")
    if cell.get("thinking") is not None:
        parts.append(f"<div class='meta'>&lt;think&gt;</div><div class='answer'>"
                     f"{_e(cell['thinking'])}</div>")
    parts.append(f"<div class='answer'>{_e(cell.get('text') or '')}</div>")
    score = cell.get("score")
    meta = [f"#{cell['answer_id']}"]
    if score is not None:
        meta.append(f"score {score:.2f}")
    if cell.get("finish_reason") == "length":
        meta.append(t(lang, "report_cut", n=data.run["max_tokens"]))
    parts.append(f"<div class='meta'>{_e(' · '.join(meta))}</div>")
    return "".join(parts)
