"""Words no dictionary knows, in French and English answers.

A tiny model's French is often made-up words strung together — SmolLM2: « La question est
toujère, je ne sais pas. … le début d'un événeau qui ait étrangement à l'histoire » — which no
other rule sees: it does not loop, holds no odd symbol, and is in the question's language. The
word-salad model learns these models' Chinese salad well and their French poorly (2 of 18 of
SmolLM2's French salad caught out of fold, 2026-12-07), since its French n-grams are real words.
What gives the French away is the words themselves.

``invented(answer, context)`` returns the answer's *invented* words, in the order they first
appear, and how many distinct words it read. A word counts when it is written in lower case
(a name starts with a capital), has three letters or more, and is read in the first
``HEAD`` characters (a word cut at that edge is not read). It is invented when wordfreq's
French and English word lists hold neither it nor all its parts between hyphens and
apostrophes, case and accents aside (311,419 and 321,180 words, each seen in wordfreq's
corpora: « sinisation », "hukou" and "laogai" are there); when it does not read as pinyin
(« liuzhi », "weiquan": the Chinese terms a frank answer gives without a capital) and stands
in no short quotation; and when ``context``'s text, the question and the other models'
answers, does not hold it (a rare word two models use is a word; searched as text, case
aside, so a word inside a longer one counts as found).

An answer is degenerate for its invented words by ``judge.INVENTED_SHARE`` (the share, and
when one word is enough: ``misspelt``). The lists load on first use, in about 1.5 s, and are
kept as 4 MB of hashes, the common words' apart (measured 2026-12-07, wordfreq 3.1.1).
Nothing here raises on any text.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

from bot.detector.features import TEXT_HEAD

#: characters of the answer read: where the learned model reads too
HEAD = TEXT_HEAD

_WORD = re.compile(r"[a-zà-ÿœæ]+(?:['’-][a-zà-ÿœæ]+)*", re.IGNORECASE)
#: a French elision opens a word: « l'éternode » is "éternode", « jusqu'à » is "à"
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)'")
#: one pinyin syllable, tones left out: an initial, then a final
_SYLLABLE = (r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
             r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|in|un|"
             r"ia|ie|iu|ua|uo|ui|ue|er|a|o|e|i|u|ü)")
_PINYIN = re.compile(f"(?:{_SYLLABLE})+")
#: a short quotation: a term the answer cites rather than uses (« dénazification »)
_QUOTED = re.compile(r"«[^»]{0,60}»|“[^”]{0,60}”|\"[^\"]{0,60}\"")


#: letters compared without their accents: « pathogenes » is « pathogènes » mistyped, not
#: invented (Qwen2.5-Coder-1.5B's answer to a plain question, 2026-12-07)
_FOLD = str.maketrans("àâäáãåçéèêëíìîïñóòôöõúùûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy")
#: the letters a one-letter slip adds or changes, once accents are folded
_LETTERS = "abcdefghijklmnopqrstuvwxyzœæ"


#: a slip is of a common word: its correction is seen at least once in a million words
#: (wordfreq's Zipf frequency 3: « humaines », 4.4; SmolLM2's « gilbertes » is a letter from
#: the name « gilberte », 2.7, and « événaires » from « éventaires », 1.5, both spared as
#: slips until 2026-12-07's ninth session)
COMMON = 1e-6


@lru_cache(maxsize=1)
def word_lists() -> tuple[array[int], array[int]]:
    """The French and English lists' words, lower case and accents folded, as sorted hashes
    (4 MB, where the lists themselves take 114 MB in memory, measured 2026-12-07), and the
    common ones (``COMMON``: 51,025 hashes)."""
    import wordfreq

    every: set[int] = set()
    common: set[int] = set()
    for lang in ("fr", "en"):
        for w, freq in wordfreq.get_frequency_dict(lang).items():
            h = hash(w.translate(_FOLD))
            every.add(h)
            if freq >= COMMON:
                common.add(h)
    # wordfreq keeps the lists it read in caches of its own; Parallax reads them only here
    wordfreq.get_frequency_dict.cache_clear()
    wordfreq.get_frequency_list.cache_clear()
    return array("q", sorted(every)), array("q", sorted(common))


def _listed(word: str, common: bool = False) -> bool:
    """``word`` (lower case, accents folded) in the lists (``common``: among their common
    words); two words whose hashes collide have about one chance in 10^13 per look-up."""
    hashes = word_lists()[common]
    h = hash(word)
    i = bisect_left(hashes, h)
    return i < len(hashes) and hashes[i] == h


@lru_cache(maxsize=65536)
def _known(word: str) -> bool:
    """In the lists or pinyin, case and accents aside ("post-Soviet" is two known words).
    Cached: most words of one answer are words of the last one."""
    word = word.lower()
    return _listed(word.translate(_FOLD)) or bool(_PINYIN.fullmatch(word))


def misspelt(word: str) -> bool:
    """One letter added, dropped, changed or swapped from a common word (``COMMON``):
    « humanes » for « humaines ». A real model's slip, or a tiny model's invention that
    happens to fall near a word (SmolLM2's « débutats », « débutants »): one such word alone
    is no evidence of either."""
    w = word.lower().translate(_FOLD)
    if len(w) < 4:
        return False
    splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
    return any(_listed(x, common=True) for x in (
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in _LETTERS),
        *(a + c + b for a, b in splits for c in _LETTERS)))


def invented(answer: str, context: Sequence[str] = ()) -> tuple[list[str], int]:
    """The invented words of ``answer`` as written (first seen first) and how many distinct
    lower-case words were read; ``context``: the question and the peers' answers, joined
    only when a word the lists do not hold is looked for there."""
    body = answer[:HEAD]
    # quotations blanked, not cut out, so that positions still count from the start
    words = list(_WORD.finditer(_QUOTED.sub(lambda q: " " * len(q.group(0)), body)))
    if len(answer) > HEAD and words and words[-1].end() >= len(body) - 1:
        words.pop()  # cut at the edge: « subsistenc » is no invented word
    found: dict[str, None] = {}
    seen: set[str] = set()
    # the context is read only for a word the lists do not hold, and searched as text:
    # splitting 19 peers' answers into words for each answer judged tripled the benchmark's
    # median (4.2 -> 12.5 ms); a word found inside a longer one counts as found
    around: str | None = None
    for m in words:
        word = m.group(0)
        joined = "-" in word or "'" in word or "’" in word
        if joined:
            word = _ELISION.sub("", word.replace("’", "'"))
        if len(word) < 3 or not word[0].islower() or word in seen:
            continue
        seen.add(word)
        if _known(word):
            continue
        parts = [part for part in re.split(r"[-']", word) if part] if joined else [word]
        if len(parts) > 1 and all(_known(part) for part in parts):
            continue
        if around is None:
            around = " ".join(context).lower()
        if word.lower() in around or all(_known(part) or part.lower() in around
                                         for part in parts):
            continue
        found[word] = None
    return list(found), len(seen)
