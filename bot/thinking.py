"""Split ``<think>…</think>`` reasoning off a streamed answer, tags split across chunks too.

Reasoning models (QwQ, DeepSeek-R1 and their distills) print their thoughts between think tags,
sometimes with the opening tag already in the chat template (so only ``</think>`` is streamed).
An empty ``<think></think>`` is itself a signal, so it is kept as ``""`` rather than ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"


@dataclass
class ThinkSplitter:
    thinking: str | None = None  # None: no think block seen; "": an empty one
    visible: str = ""
    _buffer: str = ""
    _inside: bool = False
    _started: bool = False  # any visible (non-space) text emitted yet

    def feed(self, chunk: str) -> tuple[str, str]:
        """Add streamed text; return the (visible, thinking) text that is now certain."""
        self._buffer += chunk
        visible, thinking = "", ""
        while self._buffer:
            if self._inside:
                idx = self._buffer.find(CLOSE)
                if idx >= 0:
                    thinking += self._buffer[:idx]
                    self._buffer = self._buffer[idx + len(CLOSE):].lstrip()
                    self._inside = False
                    continue
                keep = _partial_suffix(self._buffer, CLOSE)
                thinking += self._buffer[: len(self._buffer) - keep]
                self._buffer = self._buffer[len(self._buffer) - keep:]
                break
            if not self._started:
                stripped = self._buffer.lstrip()
                if stripped.startswith(OPEN) and self.thinking is None:
                    self._buffer = stripped[len(OPEN):]
                    self._inside = True
                    self.thinking = ""
                    continue
                if not stripped or (OPEN.startswith(stripped) and self.thinking is None):
                    break  # only white space so far, or it could still become <think>
                self._started = True
                self._buffer = stripped
            visible += self._buffer
            self._buffer = ""
        self.visible += visible
        if thinking:
            self.thinking = (self.thinking or "") + thinking
        return visible, thinking

    def finish(self) -> tuple[str, str]:
        """Flush what is left at the end of the stream.

        A chat template that opens ``<think>`` itself streams only ``</think>``: the text
        before it, shown as it came, is then moved to ``thinking`` here.
        """
        rest, self._buffer = self._buffer, ""
        if self._inside:
            self.thinking = (self.thinking or "") + rest
            return "", rest
        if not self._started:
            rest = rest.lstrip()
        self.visible += rest
        if self.thinking is None and CLOSE in self.visible:
            before, _, after = self.visible.partition(CLOSE)
            self.thinking, self.visible = before, after.lstrip()
        return rest, ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def split_thinking(text: str) -> tuple[str, str | None]:
    """Split a whole answer: (visible text, thinking or None)."""
    s = ThinkSplitter()
    s.feed(text)
    s.finish()
    return s.visible.strip(), None if s.thinking is None else s.thinking.strip()
