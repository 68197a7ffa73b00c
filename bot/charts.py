"""Pictures of a probe run and of one question: the heat map, the double-standard chart and the
comparison card (``parallax ask --card``, the bot's picture button), as PNG bytes.

Made to be shown to a room: the reader's language, Chinese text drawn with Noto Sans CJK (the
``noto-cjk-sans-otc`` package, a dependency, so no system font is needed), colours from the
Okabe–Ito palette and the cividis colour map (both readable with the common colour-vision
deficiencies: Okabe & Ito, "Color Universal Design", 2008; Nuñez et al., PLoS ONE 13(7), 2018),
and long model names wrapped, never overlapping. matplotlib draws off-screen (Agg).

Each function returns a ``Chart``: the PNG, and where its cells are in pixels, so that tests
can check a cell's colour.
"""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.i18n import t
from bot.present import verdict_word

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bot.catalog import Catalog
    from bot.pipeline import Judged
    from bot.report import RunData

#: a verdict's colour (Okabe–Ito): answered blue, refused vermillion, evasive orange,
#: degenerate grey, error black; a cell not asked stays white
VERDICT_COLOURS = {"answered": "#0072B2", "refused": "#D55E00", "evasive": "#E69F00",
                   "degenerate": "#BBBBBB", "error": "#000000", "missing": "#FFFFFF"}
#: the heat map's colour map: the flagged share from 0 (light) to 1 (dark)
HEAT_CMAP = "cividis_r"
DPI = 110
CJK_FAMILY = "Noto Sans CJK SC"


@dataclass(frozen=True)
class Chart:
    png: bytes
    #: a cell's key -> its centre in pixels (x from the left, y from the top)
    cells: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)


@cache
def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    try:
        import noto_cjk_sans_otc  # type: ignore[import-untyped]

        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
        families = [CJK_FAMILY, "DejaVu Sans"]
    except (ImportError, OSError, RuntimeError):  # no CJK font: Latin text still draws
        families = ["DejaVu Sans"]
    matplotlib.rcParams.update({"font.family": "sans-serif", "font.sans-serif": families,
                                "axes.unicode_minus": False, "svg.fonttype": "none"})
    import matplotlib.pyplot as plt

    return plt


def _wrap(text: str, width: int) -> str:
    """Wrap a label; a name without spaces (a model id) breaks after its dashes."""
    if " " not in text and len(text) > width:
        parts, line = [], ""
        for piece in text.replace("-", "-\x00").split("\x00"):
            if line and len(line) + len(piece) > width:
                parts.append(line)
                line = ""
            line += piece
        parts.append(line)
        return "\n".join(parts)
    if any("\u3400" <= ch <= "\u9fff" for ch in text):  # Chinese: no spaces to break at
        return "\n".join(text[i:i + width // 2 + 1] for i in range(0, len(text), width // 2 + 1))
    return "\n".join(textwrap.wrap(text, width)) or text


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _render(fig: Figure, marks: dict[tuple[str, ...], tuple[Axes, float, float]]) -> Chart:
    """Draw the figure to PNG and read where each marked cell landed."""
    plt = _matplotlib()
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    cells = {}
    for key, (ax, x, y) in marks.items():
        px, py = ax.transData.transform((x, y))
        cells[key] = (round(px), round(height - py))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return Chart(buf.getvalue(), cells, (width, height))


def _text_colour(rgba: tuple[float, ...]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


# -- the heat map ---------------------------------------------------------------------------
def heatmap(data: RunData, lang: str = "en") -> Chart:
    """Topics × models, the flagged share in each cell, one panel per language."""
    from bot.report import judged_count, share, topic_counts

    plt = _matplotlib()
    from matplotlib.colors import Normalize

    counts = topic_counts(data)
    topics, models, languages = data.topic_order(), data.models, data.languages
    cmap = plt.get_cmap(HEAT_CMAP)
    norm = Normalize(0, 1)
    width = 2.6 + len(languages) * (0.95 * len(models) + 0.5)
    height = 1.9 + 0.36 * len(topics)
    fig, axes = plt.subplots(1, len(languages), figsize=(max(width, 6.5), height), dpi=DPI,
                             sharey=True, squeeze=False)
    marks: dict[tuple[str, ...], tuple[Axes, float, float]] = {}
    n_sensitive = sum(data.kind_of(tp) == "sensitive" for tp in topics)
    for ax, language in zip(axes[0], languages, strict=True):
        for i, topic in enumerate(topics):
            for j, model in enumerate(models):
                c = counts.get((language, model, topic)) or Counter()
                value = share(c)
                if value is None:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                               edgecolor="#DDDDDD", hatch="//"))
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#777777")
                else:
                    colour = cmap(norm(value))
                    judged = judged_count(c)
                    flagged = round(value * judged)
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour,
                                               edgecolor="white", linewidth=1.5))
                    ax.text(j, i - 0.12, f"{value:.0%}", ha="center", va="center", fontsize=8,
                            color=_text_colour(colour))
                    ax.text(j, i + 0.25, f"{flagged}/{judged}", ha="center", va="center",
                            fontsize=5.5, color=_text_colour(colour))
                marks[(language, model, topic)] = (ax, j, i)
        ax.set_xlim(-0.5, len(models) - 0.5)
        ax.set_ylim(len(topics) - 0.5, -0.5)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels([_wrap(m, 11) for m in models], fontsize=7.5)
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(topics)))
        ax.set_yticklabels([_wrap(data.topic_label(tp, lang), 26) for tp in topics],
                           fontsize=8)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if 0 < n_sensitive < len(topics):
            ax.axhline(n_sensitive - 0.5, color="#333333", linewidth=1.2)
        ax.set_xlabel(t(lang, "chart_language_" + language), fontsize=10, labelpad=6)
    fig.subplots_adjust(left=0.2 if len(languages) > 1 else 0.3, right=0.88,
                        top=1 - 1.25 / height, bottom=0.55 / height, wspace=0.12)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    last = axes[0][-1].get_position()
    bar = fig.colorbar(sm, cax=fig.add_axes((0.9, last.y0 + last.height * 0.25, 0.015,
                                             last.height * 0.5)))
    bar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _pos: f"{v:.0%}"))
    bar.ax.tick_params(labelsize=7)
    bar.set_label(t(lang, "chart_flagged_share"), fontsize=8)
    fig.suptitle(t(lang, "chart_heatmap_title"), fontsize=12, x=0.02, ha="left")
    fig.text(0.02, 0.01, _wrap(t(lang, "chart_heatmap_note"), int(width * 16)), fontsize=7,
             color="#444444")
    return _render(fig, marks)


# -- the double standard --------------------------------------------------------------------
def double_standard_chart(data: RunData, lang: str = "en", per_model: int = 14) -> Chart:
    """Per model, the questions it answered in one language and refused or evaded in another:
    one row a question, one column a language, each cell coloured by its verdict."""
    from bot.report import double_standards, verdict_of

    plt = _matplotlib()
    from matplotlib.patches import Patch

    doubles = double_standards(data)
    models = [m for m in data.models if doubles.get(m)]
    languages = data.languages
    rows = {m: doubles[m][:per_model] for m in models}
    heights = [max(1, len(rows[m])) + 2.4 for m in models] or [2.0]
    fig_h = 1.4 + 0.3 * sum(heights)
    fig = plt.figure(figsize=(8.6, max(fig_h, 2.6)), dpi=DPI)
    marks: dict[tuple[str, ...], tuple[Axes, float, float]] = {}
    if not models:
        fig.text(0.5, 0.5, _wrap(t(lang, "chart_no_double_standard"), 70), ha="center",
                 va="center", fontsize=11)
    else:
        grid = fig.add_gridspec(len(models), 1, height_ratios=heights, hspace=0.9,
                                left=0.5, right=0.97, top=1 - 0.9 / fig_h, bottom=0.75 / fig_h)
        for k, model in enumerate(models):
            ax = fig.add_subplot(grid[k])
            items = rows[model]
            for i, item in enumerate(items):
                for j, language in enumerate(languages):
                    verdict = verdict_of(data.cell(item["question"], language, model))
                    colour = VERDICT_COLOURS[verdict]
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour,
                                               edgecolor="white", linewidth=1.5))
                    # the word too, not the colour alone
                    word = (t(lang, "chart_missing") if verdict == "missing"
                            else verdict_word(lang, verdict))
                    ax.text(j, i, word, ha="center", va="center", fontsize=7,
                            color=_text_colour(plt.matplotlib.colors.to_rgba(colour)))
                    marks[(model, item["question"], language)] = (ax, j, i)
            ax.set_xlim(-0.5, len(languages) - 0.5)
            ax.set_ylim(len(items) - 0.5, -0.5)
            ax.set_xticks(range(len(languages)))
            ax.set_xticklabels([t(lang, "chart_language_" + x) for x in languages], fontsize=8)
            ax.xaxis.tick_top()
            ax.set_yticks(range(len(items)))
            ax.set_yticklabels([_short(data.question_text(it["question"], lang), 58)
                                for it in items], fontsize=7.5)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            total = len(doubles[model])
            more = (" " + t(lang, "chart_more", n=total - len(items))) if total > len(items) \
                else ""
            ax.annotate(_short(t(lang, "chart_double_standard_model", model=model, n=total),
                               100) + more, xy=(0.02, 1), xycoords=("figure fraction",
                                                                    "axes fraction"),
                        xytext=(0, 20), textcoords="offset points", fontsize=9, va="bottom")
    legend = [Patch(facecolor=VERDICT_COLOURS[v], edgecolor="#999999",
                    label=verdict_word(lang, v) if v != "missing" else t(lang, "chart_missing"))
              for v in ("answered", "refused", "evasive", "degenerate", "error")]
    fig.legend(handles=legend, loc="lower left", ncol=5, fontsize=7.5, frameon=False,
               bbox_to_anchor=(0.01, 0.0))
    fig.suptitle(_wrap(t(lang, "chart_double_standard_title"), 80), fontsize=12, x=0.02,
                 ha="left")
    return _render(fig, marks)


# -- one question's card --------------------------------------------------------------------
@dataclass(frozen=True)
class CardColumn:
    """One model's column on a card."""

    model_id: str
    name: str
    organisation: str
    country: str
    verdict: str  # a verdict, or "missing"
    text: str  # the answer, or the error's diagnostic


def columns_of(judged: Judged) -> list[CardColumn]:
    return [CardColumn(a.model.id, a.model.name or a.model.id, a.model.organisation,
                       a.model.country, a.verdict or ("error" if a.error else "missing"),
                       a.text if a.error is None else (a.error or ""))
            for a in judged.answers]


def columns_from_rows(rows: list[dict[str, Any]], catalog: Catalog) -> list[CardColumn]:
    """Columns from stored answers (``Store.answers_for``); a model no longer in the manifest
    shows its id."""
    known = {m.id: m for m in catalog.models}
    out = []
    for r in rows:
        spec = known.get(r["model_id"])
        verdict = "error" if r.get("error_code") else (r.get("verdict") or "missing")
        out.append(CardColumn(r["model_id"], spec.name if spec else r["model_id"],
                              spec.organisation if spec else "", spec.country if spec else "",
                              verdict, r["error"] if r.get("error_code") else r["text"]))
    return out


def card(question: str, columns: list[CardColumn], lang: str = "en",
         excerpt: int = 260) -> Chart:
    """One question's comparison as one picture: the question, then one column per model with
    its country, name, verdict (as a coloured band and in words) and the start of its
    answer."""
    plt = _matplotlib()

    n = max(1, len(columns))
    fig_w = max(7.0, 3.1 * n)
    fig = plt.figure(figsize=(fig_w, 5.6), dpi=DPI)
    fig.patch.set_facecolor("white")
    fig.text(0.02, 0.95, _wrap(_short(question, 200), int(fig_w * 10)), fontsize=13, va="top")
    marks: dict[tuple[str, ...], tuple[Axes, float, float]] = {}
    col_w = 0.96 / n
    chars = max(18, int(col_w * fig_w * 12))
    for k, col in enumerate(columns):
        ax = fig.add_axes((0.02 + k * col_w, 0.04, col_w - 0.015, 0.74))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        colour = VERDICT_COLOURS.get(col.verdict, "#FFFFFF")
        ax.add_patch(plt.Rectangle((0, 0.86), 1, 0.14, facecolor=colour, edgecolor="none"))
        word = (t(lang, "chart_missing") if col.verdict == "missing"
                else verdict_word(lang, col.verdict))
        ax.text(0.04, 0.93, word or "–", fontsize=12, va="center",
                color=_text_colour(plt.matplotlib.colors.to_rgba(colour)))
        ax.text(0.0, 0.80, f"{col.country}  {col.organisation}".strip(), fontsize=8.5,
                color="#444444", va="top")
        ax.text(0.0, 0.74, _wrap(col.name, chars - 4), fontsize=10.5, va="top")
        body = _short(col.text, excerpt) if col.text.strip() else t(lang, "chart_empty_answer")
        ax.text(0.0, 0.60, _wrap(body, chars), fontsize=8.5, va="top", color="#222222",
                linespacing=1.35)
        ax.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, edgecolor="#DDDDDD"))
        marks[(col.model_id,)] = (ax, 0.5, 0.93)
    fig.text(0.98, 0.01, "Parallax", fontsize=7, color="#888888", ha="right")
    return _render(fig, marks)
