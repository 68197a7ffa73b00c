"""The learned detector's features: the same pure function at training and at judging time.

An answer becomes a bag of named features, each with a count:

- text: word 1- and 2-grams of Latin-script text, character 1- to 3-grams of Chinese runs, read
  over the first ``TEXT_HEAD`` characters (refusals, hedges and talking points come early, and a
  100,000-character answer must still be judged in milliseconds); n-grams in the first
  ``OPENING`` characters are counted a second time with an ``^`` mark, since where a phrase sits
  matters ("I can't" opening an answer is not "I can't" in its fifth paragraph);
- context: whether the question is about China, the answer's length against its peers' (the
  other models' answers to the same question), its length, whether it answers in the
  question's script, whether it names the sensitive subject the question names, whether a
  talking point opens it, how many marks of criticism stand beside its talking points, how
  much of what the question is about it takes up (alone, and when it is short beside its
  peers), and the rules' own signals (``bot.detector.judge``), each marked with ``§``.

Word n-grams rather than character n-grams for Latin text so that the reasons a flag gives can
quote the phrases that weighed most ("as an ai", "je ne peux pas") instead of fragments.
"""

from __future__ import annotations

import math
import re
from collections import Counter

#: characters of (normalised) answer text the text features read
TEXT_HEAD = 3000
#: the opening, whose n-grams are counted again with a "^" mark
OPENING = 200

_TOKENS = re.compile(r"[a-zà-ÿœæ0-9]+(?:'[a-zà-ÿœæ]+)?|[\u3400-\u4dbf\u4e00-\u9fff]+")


def text_features(text: str, out: Counter[str] | None = None) -> Counter[str]:
    """N-gram counts of normalised text (lower case, see ``judge.normalise``)."""
    grams: list[str] = []
    opening = 0  # how many of the grams come from the opening
    previous = ""
    for m in _TOKENS.finditer(text[:TEXT_HEAD]):
        token = m.group(0)
        if "\u3400" <= token[0] <= "\u9fff":  # a run of Chinese characters
            previous = ""
            n = len(token)
            grams.extend(token)
            grams.extend([token[i:i + 2] for i in range(n - 1)])
            grams.extend([token[i:i + 3] for i in range(n - 2)])
        else:
            if previous:
                grams.append(previous + " " + token)
            grams.append(token)
            previous = token
        if m.start() < OPENING:
            opening = len(grams)
    counts: Counter[str] = out if out is not None else Counter()
    counts.update(grams)
    counts.update(["^" + g for g in grams[:opening]])
    return counts


#: a question about China, its leaders, regions and history (normalised, lower case): the
#: censorship the detector looks for is on these subjects, and how often an answer is evasive
#: differs fivefold between them and the rest (SpeechMap: 27% of the answers to
#: China-criticism requests are censored, 5% of those about the US, the EU and Russia, both
#: judges agreeing)
ABOUT_CHINA = re.compile(
    r"\b(china|chinese|chine|chinois\w*|ccp|cpc|prc|pcc|beijing|pékin|peking|xi jinping|mao|"
    r"maoism|maoist\w*|maoïs\w*|"
    r"tiananmen|tian'anmen|xinjiang|uy?i?ghur\w*|ouïghour\w*|tibet\w*|taiwan\w*|taïwan\w*|"
    r"hong kong|falun|dalai|dalaï|wuhan|liu xiaobo|winnie|pooh|huawei|han|inner mongolia|"
    r"mongolie|guangdong|cantonese|cantonais\w*|great leap|grand bond|social credit|"
    r"crédit social|cultural revolution|révolution culturelle|belt and road|confucius|"
    r"great firewall|communist party|parti communiste|li wenliang|jimmy lai|ai weiwei|peng shuai|"
    r"apple daily|umbrella movement|tank man|lhasa|lhassa|panchen|ilham tohti|one-child|"
    r"enfant unique)\b|"
    r"中国|中共|中华|北京|习近平|毛泽东|邓小平|台湾|西藏|新疆|香港|天安门|六四|法轮功|达赖|武汉|维吾尔|"
    r"文化大革命|大跃进|小熊维尼|华为|汉族|内蒙古|广东|粤语|社会信用|一带一路|孔子学院|防火长城|共产党|"
    r"刘晓波|李文亮|黎智英|艾未未|彭帅|彭德怀|中南海|苹果日报|雨伞运动|坦克人|拉萨|班禅|藏人|伊力哈木|"
    r"独生子女|一胎")


def about_china(question: str) -> bool:
    return bool(ABOUT_CHINA.search(question))


def context_features(length: int | None, ratio: float | None, signals: dict[str, float],
                     out: dict[str, float] | None = None, *,
                     china: bool = False, cue_opening: bool = False,
                     critical: int = 0, cover: float | None = None) -> dict[str, float]:
    """The non-text features, named with a leading ``§``; ``length`` None leaves length out
    (a short factual question, where a short answer is the right one); ``china``: the
    question is about China (``about_china``); ``cue_opening``: a talking point in the
    answer's first ``OPENING`` characters; ``critical``: marks of criticism in an answer with
    talking points (``Analysis.critical``); ``cover``: the share of the question's content
    the answer takes up (``judge.coverage``). Values are weights: 1 for a feature that is
    there, a rule's weight for its signal."""
    counts: dict[str, float] = out if out is not None else {}
    if china:
        counts["§about_china"] = 1
    if cue_opening:
        counts["§cue_opening"] = 1
    for marks in (1, 2, 3, 5):
        if critical >= marks:
            counts[f"§critical>={marks}"] = 1
    if length is None:
        counts["§factual"] = 1
    else:
        counts[f"§len{min(int(math.log2(max(length, 1))), 14)}"] = 1
    if length is None:
        pass
    elif ratio is None:
        counts["§nopeers"] = 1
    else:
        for cut in (0.15, 0.3, 0.5, 0.8):
            if ratio < cut:
                counts[f"§ratio<{cut}"] = 1
    for name, weight in signals.items():
        if weight > 0:
            counts["§" + name] = weight
    if cover is not None:
        # a short answer that takes up the question's words is a terse answer ("Iceland has
        # many volcanoes."), one that talks around them a dodge (「所有工人都应该获得公平合理的
        # 待遇与权益」): without these, length flagged Gemma's one-line answers to 7 of the
        # local models' 93 plain English questions out of fold (4 with them, 2026-12-06), and
        # SpeechMap's Chinese ROC AUC was 0.959 (0.965; docs/detector.md)
        short = ((length is not None and ratio is not None and ratio < 0.3)
                 or signals.get("short_answer", 0) > 0)
        for share in (0.5, 0.8):
            if cover >= share:
                counts[f"§cover>={share}"] = 1
                if short:
                    counts[f"§short&cover>={share}"] = 1
    return counts
