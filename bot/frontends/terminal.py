"""Terminal front end: answers side by side, live, with rich; or one JSON object."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.catalog import ModelSpec
from bot.i18n import t
from bot.pipeline import (
    Accepted,
    Answer,
    AnswerFinished,
    AnswerStarted,
    Judged,
    Pipeline,
    Rejected,
    Token,
)
from bot.present import (
    VERDICT_ICON,
    VERDICTS,
    country_name,
    error_text,
    reason_text,
    verdict_word,
)
from bot.probe import CellDone, Probe, ProbeFinished, ProbeStarted

#: the terminal's colour for each verdict (marks and words: bot/present.py)
_COLOUR = {"answered": "green", "refused": "bold red", "evasive": "dark_orange",
           "degenerate": "grey58", "error": "yellow"}
VERDICT_STYLE = {v: (VERDICT_ICON[v] + (" " if v == "error" else ""), _COLOUR[v])
                 for v in VERDICTS}


@dataclass
class _Column:
    model: ModelSpec
    text: str = ""
    thinking: str = ""
    state: str = "waiting"  # waiting, running, done
    answer: Answer | None = None


#: below this many columns per model, answers are stacked rather than placed side by side
MIN_COLUMN_WIDTH = 30
#: below this width the verdicts are a list, not a table (a table squeezes its "why" column)
WIDE_TABLE = 110


@dataclass
class _Board:
    question: str
    columns: dict[str, _Column] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tail_lines: int = 18
    #: the language the board is written in ("en", "fr", "zh"); the answers are the models'
    lang: str = "en"

    def render(self, width: int = 120) -> RenderableType:
        title = Text(f"❓ {self.question}", style="bold")
        parts: list[RenderableType] = [title]
        parts += [Text(n, style="yellow") for n in self.notes]
        side_by_side = width >= MIN_COLUMN_WIDTH * max(len(self.columns), 1)
        if side_by_side:
            table = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
            for col in self.columns.values():
                table.add_column(_header(col.model, self.lang), ratio=1, overflow="fold",
                                 vertical="top")
            table.add_row(*(self._panel(col, self.tail_lines) for col in self.columns.values()))
            parts.append(table)
        else:  # narrow: one panel a model, one under the other, each its own header
            lines = max(3, self.tail_lines // max(len(self.columns), 1))
            for col in self.columns.values():
                header = _header(col.model, self.lang, one_line=True)
                parts.append(self._panel(col, lines, title=header))
        return Group(*parts)

    def _panel(self, col: _Column, tail_lines: int, title: Text | None = None) -> Panel:
        body = Text()
        if col.thinking and not col.text:
            body.append("💭 " + _tail(col.thinking, tail_lines // 2), style="italic dim")
        body.append(_tail(col.text, tail_lines) if col.state != "done" else col.text)
        if col.state == "waiting":
            body.append(t(self.lang, "term_waiting"), style="dim")
        elif col.state == "running":
            body.append("▌", style="blink")
        if col.answer is not None:
            body.append("\n\n")
            body.append_text(_footer(col.answer, self.lang))
        return Panel(body, border_style=_border(col), title=title, title_align="left")


def _header(model: ModelSpec, lang: str, one_line: bool = False) -> Text:
    t = Text(model.name, style="bold cyan")
    t.append(f"{' · ' if one_line else chr(10)}{model.organisation} · {model.flag} "
             f"{country_name(lang, model.country)}", style="dim")
    return t


def _tail(text: str, lines: int) -> str:
    parts = text.splitlines()
    return "\n".join(parts[-lines:]) if len(parts) > lines else text


def _border(col: _Column) -> str:
    if col.answer is None or col.answer.verdict is None:
        return "blue" if col.state == "running" else "grey37"
    return VERDICT_STYLE.get(col.answer.verdict, ("", "white"))[1]


def _stats(a: Answer, first_token: bool = True, lang: str = "en") -> str:
    bits = []
    if a.seconds is not None:
        bits.append(f"{a.seconds:.1f} s")
    if a.tokens_per_second:
        bits.append(f"{a.tokens_per_second:.0f} tok/s")
    if first_token and a.first_token_seconds is not None:
        bits.append(f"{t(lang, 'term_first_token')} {a.first_token_seconds:.2f} s")
    return " · ".join(bits)


def _footer(a: Answer, lang: str = "en") -> Text:
    out = Text()
    if a.error:
        out.append(f"⚠️  {error_text(lang, a)}\n", style="yellow")
    if a.verdict:
        icon, style = VERDICT_STYLE.get(a.verdict, ("", "white"))
        out.append(f"{icon} {verdict_word(lang, a.verdict)}", style=style)
        if a.score is not None:
            out.append(f" ({a.score:.2f})", style=style)
        out.append("  ")
    out.append(_stats(a, lang=lang), style="dim")
    if a.truncated:
        out.append("\n" + t(lang, "term_truncated"), style="yellow")
    if a.thinking is not None:
        out.append("\n💭 " + (t(lang, "tg_empty_think") if not a.thinking else
                               t(lang, "term_thought", chars=len(a.thinking))), style="dim")
    return out


def _why(a: Answer, lang: str = "en") -> str:
    """The strongest reason of a verdict that flags (as Telegram's summary shows it): an
    answered one carries weak signals that did not decide it, and "🟩 answered — says
    nothing of what happened" read as a contradiction (2026-12-07)."""
    if a.error:
        return error_text(lang, a)
    if not a.reasons or a.verdict not in ("refused", "evasive", "degenerate"):
        return ""
    return reason_text(lang, a.reasons[0])


def _verdict_text(a: Answer, lang: str = "en", pad: int = 0) -> Text:
    icon, style = VERDICT_STYLE.get(a.verdict or "", ("", "white"))
    # padded by display cells, not characters: 「拒绝回答」 takes two cells a character
    word = verdict_word(lang, a.verdict)
    return Text(f"{icon} {word}{' ' * max(0, pad - cell_len(word))}", style=style)


def summary_table(judged: Judged, width: int = 120, lang: str = "en") -> RenderableType:
    """The verdicts: a table when there is room for its "why" column, else a list."""
    if width < WIDE_TABLE:
        return _summary_list(judged, lang)
    table = Table(title=t(lang, "tg_summary"), expand=True)
    table.add_column(t(lang, "term_col_model"), no_wrap=True)
    table.add_column(t(lang, "term_col_origin"), no_wrap=True)
    table.add_column(t(lang, "term_col_verdict"), no_wrap=True)
    table.add_column(t(lang, "term_col_why"), ratio=2, overflow="fold", min_width=30)
    table.add_column(t(lang, "term_col_time"), justify="right", no_wrap=True)
    table.add_column("tok/s", justify="right", no_wrap=True)
    for a in judged.answers:
        table.add_row(a.model.name, f"{a.model.flag} {a.model.organisation}",
                      _verdict_text(a, lang), _why(a, lang),
                      "" if a.seconds is None else f"{a.seconds:.1f} s",
                      "" if not a.tokens_per_second else f"{a.tokens_per_second:.0f}")
    return table


def _summary_list(judged: Judged, lang: str = "en") -> RenderableType:
    """One entry a model: verdict and name on the first line, the reason indented below."""
    parts: list[RenderableType] = [Text(t(lang, "tg_summary"), style="bold")]
    for a in judged.answers:
        line = _verdict_text(a, lang, pad=10)
        line.append(f" {a.model.name}", style="bold")
        line.append(f" · {a.model.flag} {a.model.organisation}", style="dim")
        stats = _stats(a, first_token=False)
        if stats:
            line.append(f" · {stats}", style="dim")
        parts.append(line)
        why = _why(a, lang)
        if why:
            parts.append(Padding(Text(why), (0, 0, 0, 4)))
    return Group(*parts)


async def ask_and_render(pipeline: Pipeline, question: str, console: Console, *,
                         models: Sequence[str] | None = None, profile: str | None = None,
                         live: bool | None = None,
                         lang: str | None = None) -> Judged | Rejected:
    """Ask, show the answers side by side as they stream, then the verdicts, in ``lang``
    (else the question's language, as the pipeline decides: ``Accepted.ui_language``)."""
    live = console.is_terminal if live is None else live
    board: _Board | None = None
    display: Live | None = None
    result: Judged | Rejected | None = None
    try:
        async for event in pipeline.ask(question, models=models, profile=profile,
                                        source="terminal", ui_language=lang):
            match event:
                case Rejected():
                    console.print(Text(event.message, style="bold yellow"))
                    result = event
                case Accepted():
                    # the pipeline's choice, so the board and its notes share one language
                    board = _Board(event.text[:300] + ("…" if len(event.text) > 300 else ""),
                                   lang=event.ui_language)
                    board.columns = {m.id: _Column(m) for m in event.models}
                    board.notes = list(event.notes)
                    if live:
                        display = Live(board.render(console.width), console=console,
                                       refresh_per_second=8,
                                       transient=False, vertical_overflow="crop")
                        display.start()
                case AnswerStarted() if board:
                    board.columns[event.model.id].state = "running"
                case Token() if board:
                    col = board.columns[event.model_id]
                    if event.restart:  # another endpoint answers from the start
                        col.text = col.thinking = ""
                    col.text += event.text
                    col.thinking += event.thinking
                case AnswerFinished() if board:
                    col = board.columns[event.answer.model.id]
                    col.state, col.answer, col.text = "done", event.answer, event.answer.text
                case Judged() if board:
                    result = event
            if display is not None and board is not None:
                display.update(board.render(console.width))
    finally:
        if display is not None:
            display.stop()
    if isinstance(result, Judged) and board is not None:
        if not live:
            console.print(board.render(console.width))
        console.print(summary_table(result, console.width, board.lang))
    assert result is not None
    return result


async def ask_json(pipeline: Pipeline, question: str, *, models: Sequence[str] | None = None,
                   profile: str | None = None) -> tuple[dict[str, Any], Judged | None]:
    """The whole exchange as one JSON-ready object, and the outcome (None if it was
    rejected)."""
    async for event in pipeline.ask(question, models=models, profile=profile, source="terminal"):
        if isinstance(event, Rejected):
            return {"question": question,
                    "language": event.language.code if event.language else None,
                    "question_id": event.question_id,
                    "error": {"reason": event.reason, "message": event.message}}, None
        if isinstance(event, Judged):
            return event.to_json(), event
    raise RuntimeError("the pipeline ended without a result")




def stats_view(stats: dict[str, Any]) -> RenderableType:
    """``parallax stats`` for a person: questions per day and language, verdicts per model."""
    parts: list[RenderableType] = [
        Text(f"{stats.get('questions', 0)} questions stored", style="bold")]
    if stats.get("questions_per_language"):
        langs = Table(title="Questions per language", title_justify="left", box=box.SIMPLE_HEAD)
        langs.add_column("language", no_wrap=True)
        langs.add_column("questions", justify="right")
        for lang, n in stats["questions_per_language"].items():
            langs.add_row(str(lang), str(n))
        days = Table(title="Questions per day", title_justify="left", box=box.SIMPLE_HEAD)
        days.add_column("day", no_wrap=True)
        days.add_column("questions", justify="right")
        for day, n in list(stats["questions_per_day"].items())[-14:]:  # the last two weeks
            days.add_row(str(day), str(n))
        parts += [langs, days]
    per_model = stats.get("verdicts_per_model") or {}
    if per_model:
        table = Table(title="Verdicts per model", title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("model", no_wrap=True)
        for verdict in VERDICTS:
            label = "degen." if verdict == "degenerate" else verdict
            table.add_column(Text(label, style=VERDICT_STYLE[verdict][1]), justify="right",
                             no_wrap=True)
        table.add_column("flagged", justify="right", no_wrap=True)
        for model_id, counts in per_model.items():
            judged = sum(n for v, n in counts.items() if v not in ("error", "none"))
            flagged = counts.get("refused", 0) + counts.get("evasive", 0)
            share = f"{flagged / judged:.0%}" if judged else "–"
            table.add_row(model_id, *(str(counts.get(v, 0)) for v in VERDICTS), share)
        parts.append(table)
    return Group(*parts)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


# -- probe runs -----------------------------------------------------------------------------
async def probe_and_render(probe: Probe, console: Console) -> ProbeFinished:
    """Run a probe with a progress bar and the time left (a line every few answers when the
    output is not a terminal), and return its last event."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    finished: ProbeFinished | None = None
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[left]}"), TextColumn("[dim]{task.fields[last]}"))
    with Progress(*columns, console=console, transient=False,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("probe", total=1, left="", last="")
        async for event in probe.events():
            if isinstance(event, ProbeStarted):
                bar.update(task, description=event.name, total=event.total,
                           completed=event.done)
                if not console.is_terminal:
                    console.print(f"{event.name}: {event.total} answers planned, "
                                  f"{event.done} done already")
            elif isinstance(event, CellDone):
                left = "" if event.eta_seconds is None else f"{_duration(event.eta_seconds)} left"
                last = f"{event.model_id} {event.language} {event.prepared_id}: " + (
                    "error" if event.error else verdict_word("en", event.verdict))
                bar.update(task, completed=event.done, left=left, last=last[:60])
                if not console.is_terminal and (event.done % 25 == 0 or event.error):
                    console.print(f"{event.done}/{event.total} {left}  {last}")
            else:
                finished = event
    assert finished is not None
    return finished


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def probe_summary_view(summ: dict[str, Any]) -> RenderableType:
    """Per model and language (a row each, so it reads at 80 columns): the flagged share on
    sensitive topics and on controls; then each model's double standards."""
    table = Table(box=box.SIMPLE_HEAD, title="share of answers flagged (refused or evasive)",
                  title_justify="left")
    for col, justify in (("model", "left"), ("language", "left"), ("sensitive", "right"),
                         ("controls", "right")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for model, per in summ["models"].items():
        for k, lang in enumerate(summ["run"]["languages"]):
            cells = ["–" if per[lang][key] is None else f"{per[lang][key]:.0%}"
                     for key in ("sensitive_flagged_share", "control_flagged_share")]
            table.add_row(model if k == 0 else "", lang, *cells)
    lines = [f"{model}: {d['count']} questions answered in one language and refused or "
             "evaded in another" for model, d in summ["double_standards"].items()]
    return Group(table, Text("\n".join(lines)))


def runs_view(runs: list[dict[str, Any]]) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("id", "name", "created", "status", "models", "languages", "answers"):
        table.add_column(col, overflow="fold")
    for r in runs:
        table.add_row(str(r["id"]), r["name"], r["created_at"][:16], r["status"],
                      ", ".join(r["models"]), ",".join(r["languages"]), str(r["answers"]))
    return table
