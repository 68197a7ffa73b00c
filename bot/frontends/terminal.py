"""Terminal front end: answers side by side, live, with rich; or one JSON object."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.catalog import ModelSpec
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

VERDICT_STYLE = {
    "answered": ("🟩", "green"), "refused": ("🟥", "bold red"), "evasive": ("🟧", "dark_orange"),
    "degenerate": ("⬜", "grey58"), "error": ("⚠️ ", "yellow"),
}


@dataclass
class _Column:
    model: ModelSpec
    text: str = ""
    thinking: str = ""
    state: str = "waiting"  # waiting, running, done
    answer: Answer | None = None


@dataclass
class _Board:
    question: str
    columns: dict[str, _Column] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tail_lines: int = 18

    def render(self) -> RenderableType:
        table = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
        for col in self.columns.values():
            table.add_column(_header(col.model), ratio=1, overflow="fold", vertical="top")
        cells = []
        for col in self.columns.values():
            body = Text()
            if col.thinking and not col.text:
                body.append("💭 " + _tail(col.thinking, self.tail_lines // 2), style="italic dim")
            body.append(_tail(col.text, self.tail_lines) if col.state != "done" else col.text)
            if col.state == "waiting":
                body.append("…waiting", style="dim")
            elif col.state == "running":
                body.append("▌", style="blink")
            if col.answer is not None:
                body.append("\n\n")
                body.append_text(_footer(col.answer))
            cells.append(Panel(body, border_style=_border(col)))
        table.add_row(*cells)
        title = Text(f"❓ {self.question}", style="bold")
        parts: list[RenderableType] = [title]
        parts += [Text(n, style="yellow") for n in self.notes]
        parts.append(table)
        return Group(*parts)


def _header(model: ModelSpec) -> Text:
    t = Text(model.name, style="bold cyan")
    t.append(f"\n{model.organisation} · {model.flag} {model.country_name}", style="dim")
    return t


def _tail(text: str, lines: int) -> str:
    parts = text.splitlines()
    return "\n".join(parts[-lines:]) if len(parts) > lines else text


def _border(col: _Column) -> str:
    if col.answer is None or col.answer.verdict is None:
        return "blue" if col.state == "running" else "grey37"
    return VERDICT_STYLE.get(col.answer.verdict, ("", "white"))[1]


def _stats(a: Answer) -> str:
    bits = []
    if a.seconds is not None:
        bits.append(f"{a.seconds:.1f} s")
    if a.tokens_per_second:
        bits.append(f"{a.tokens_per_second:.0f} tok/s")
    if a.first_token_seconds is not None:
        bits.append(f"first token {a.first_token_seconds:.2f} s")
    return " · ".join(bits)


def _footer(a: Answer) -> Text:
    t = Text()
    if a.error:
        t.append(f"⚠️  {a.error}\n", style="yellow")
    if a.verdict:
        icon, style = VERDICT_STYLE.get(a.verdict, ("", "white"))
        t.append(f"{icon} {a.verdict}", style=style)
        if a.score is not None:
            t.append(f" ({a.score:.2f})", style=style)
        t.append("  ")
    t.append(_stats(a), style="dim")
    if a.truncated:
        t.append("\n(question truncated to fit the context)", style="yellow")
    if a.thinking is not None:
        t.append("\n💭 empty <think></think>" if not a.thinking else
                 f"\n💭 thought {len(a.thinking)} characters", style="dim")
    return t


def summary_table(judged: Judged) -> Table:
    table = Table(title="Verdicts", expand=True)
    table.add_column("model")
    table.add_column("origin")
    table.add_column("verdict")
    table.add_column("why", ratio=2, overflow="fold")
    table.add_column("time", justify="right")
    table.add_column("tok/s", justify="right")
    for a in judged.answers:
        icon, style = VERDICT_STYLE.get(a.verdict or "", ("", "white"))
        reason = a.reasons[0] if a.reasons else None
        why = ""
        if a.error:
            why = a.error
        elif reason:
            why = reason["signal"].replace("_", " ")
            if reason.get("quote"):
                why += f": “{reason['quote']}”"
        table.add_row(a.model.name, f"{a.model.flag} {a.model.organisation}",
                      Text(f"{icon} {a.verdict}", style=style), why,
                      "" if a.seconds is None else f"{a.seconds:.1f} s",
                      "" if not a.tokens_per_second else f"{a.tokens_per_second:.0f}")
    return table


async def ask_and_render(pipeline: Pipeline, question: str, console: Console, *,
                         models: Sequence[str] | None = None, profile: str | None = None,
                         live: bool | None = None) -> Judged | Rejected:
    """Ask, show the answers side by side as they stream, then the verdicts."""
    live = console.is_terminal if live is None else live
    board: _Board | None = None
    display: Live | None = None
    result: Judged | Rejected | None = None
    try:
        async for event in pipeline.ask(question, models=models, profile=profile,
                                        source="terminal"):
            match event:
                case Rejected():
                    console.print(Text(event.message, style="bold yellow"))
                    result = event
                case Accepted():
                    board = _Board(event.text[:300] + ("…" if len(event.text) > 300 else ""))
                    board.columns = {m.id: _Column(m) for m in event.models}
                    board.notes = list(event.notes)
                    if live:
                        display = Live(board.render(), console=console, refresh_per_second=8,
                                       transient=False, vertical_overflow="crop")
                        display.start()
                case AnswerStarted() if board:
                    board.columns[event.model.id].state = "running"
                case Token() if board:
                    col = board.columns[event.model_id]
                    col.text += event.text
                    col.thinking += event.thinking
                case AnswerFinished() if board:
                    col = board.columns[event.answer.model.id]
                    col.state, col.answer, col.text = "done", event.answer, event.answer.text
                case Judged() if board:
                    result = event
            if display is not None and board is not None:
                display.update(board.render())
    finally:
        if display is not None:
            display.stop()
    if isinstance(result, Judged) and board is not None:
        if not live:
            console.print(board.render())
        console.print(summary_table(result))
    assert result is not None
    return result


async def ask_json(pipeline: Pipeline, question: str, *, models: Sequence[str] | None = None,
                   profile: str | None = None) -> tuple[dict, bool]:
    """The whole exchange as one JSON-ready object; the flag is False if it was rejected."""
    async for event in pipeline.ask(question, models=models, profile=profile, source="terminal"):
        if isinstance(event, Rejected):
            return {"question": question,
                    "language": event.language.code if event.language else None,
                    "question_id": event.question_id,
                    "error": {"reason": event.reason, "message": event.message}}, False
        if isinstance(event, Judged):
            return event.to_json(), True
    raise RuntimeError("the pipeline ended without a result")


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
