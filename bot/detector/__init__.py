"""The censorship detector: pure functions over text (see docs/detector.md)."""

from bot.detector.judge import Judgement, Reason, Verdict, judge, warm

__all__ = ["Judgement", "Reason", "Verdict", "judge", "warm"]
