"""The one small protocol every backend follows, local or remote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from bot.catalog import ModelSpec
from bot.prompts import Message


@dataclass(frozen=True)
class Request:
    """What to generate: either chat ``messages`` or a raw completion ``prompt``."""

    messages: list[Message] = field(default_factory=list)
    prompt: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int = 0
    stop: tuple[str, ...] = ()
    threads: int = 0  # CPU threads for this generation (local backends), 0: the backend's own


@dataclass
class Usage:
    """Filled in by the backend while and after it streams."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    #: remote backends: the server that gave the answer, and whether another one failed first
    endpoint: str = ""
    retried: bool = False


class _Restart(str):
    """The type of :data:`RESTART`."""


#: yielded by a backend's stream to take back everything it streamed so far: the answer
#: starts again (a remote endpoint failed mid-answer and another one answers from the start)
RESTART = _Restart("")



class Backend(Protocol):
    spec: ModelSpec

    async def load(self) -> None:
        """Make the model ready (load weights once). Idempotent."""

    async def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes (exact for local models, an estimate for remote)."""

    async def cut(self, text: str, max_tokens: int) -> str:
        """The start of ``text`` that fits in ``max_tokens`` tokens."""

    def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        """Yield the answer's text as it is generated; fill ``usage`` as it goes."""

    async def close(self) -> None:
        """Free the model."""
