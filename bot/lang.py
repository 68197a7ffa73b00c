"""Language of a question: a script check first, then stopwords, then langdetect (seeded).

A script check decides Chinese (and Japanese/Korean, which are not supported) before any
statistics, so that a four-character Chinese question is never mistaken. For Latin-script text,
common English and French function words decide short questions, where langdetect is weakest;
langdetect, seeded for determinism, settles the rest.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.utils.lang_profile import LangProfile

#: the langdetect profiles loaded: English and French, which Parallax answers, and the
#: languages it recognises to answer "unsupported" in their own words (UNSUPPORTED_MESSAGES).
#: All 55 profiles cost about 63 MB; these about 15 MB (docs/performance.md). Chinese,
#: Japanese, Korean and Arabic are told apart by script before langdetect is asked.
PROFILES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "uk", "bg", "mk")
_factory: DetectorFactory | None = None

SUPPORTED = ("en", "fr", "zh")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LETTER = re.compile(r"\w", re.UNICODE)
_WORD = re.compile(r"[a-zà-ÿœæ']+", re.IGNORECASE)
_FRENCH_SPACE = re.compile(r"\w[ \u00a0\u202f][?!:;»]")

# Characters whose form differs between Traditional and Simplified Chinese.
_TRADITIONAL = set("這們國為麼個說對時會來學與發還讓種灣門廣場義歷實體關點經現開"
                   "問題過動後頭樣長書東車馬鳥華黨權爭雙戰擊區臺壓覺應當從幾")
_SIMPLIFIED = set("这们国为么个说对时会来学与发还让种湾门广场义历实体关点经现开"
                  "问题过动后头样长书东车马鸟华党权争双战击区台压觉应当从几")

_EN = {"the", "what", "is", "are", "was", "were", "who", "why", "how", "did", "does", "do", "of",
       "in", "and", "to", "a", "an", "happened", "which", "when", "where", "can", "you", "tell",
       "me", "about", "it", "this", "that", "there", "should", "would", "has", "have", "on",
       "explain", "describe", "write", "analyze", "analyse", "compare", "summarize",
       "summarise", "list", "draft", "discuss", "evaluate", "examine", "outline", "create",
       "compose", "argue", "assess", "for", "with", "from", "by", "its",
       "their", "nato", "china", "chinese", "government", "war", "law", "killed"}
_FR = {"le", "la", "les", "des", "du", "de", "un", "une", "est", "sont", "que", "qui", "quoi",
       "quel", "quelle", "quels", "pourquoi", "comment", "où", "s'est", "passé", "et", "en",
       "au", "aux", "il", "elle", "ce", "cette", "pas", "dans", "sur", "pour", "avec", "été",
       "c'est", "l'", "d'", "à", "explique", "décris", "écris", "résume", "rédige", "otan",
       "chinois", "chinoise", "gouvernement", "guerre", "loi", "mai", "juin", "juillet",
       "était", "étaient", "ils", "ou", "mais", "donc", "liberté", "droits", "homme",
       "destitution", "émeute", "réforme", "procès", "arrestation", "empoisonnement",
       "élargissement", "capitale", "se", "ne", "par", "sous"}

# Shown when a question is in a language Parallax does not support: in that language where we
# can, always followed by English.
UNSUPPORTED_MESSAGES: dict[str, str] = {
    "en": "Sorry, Parallax understands questions in English, French and Chinese only.",
    "fr": "Désolé, Parallax ne comprend que les questions en anglais, en français et en chinois.",
    "zh": "抱歉，Parallax 只支持英语、法语和中文提问。",
    "de": "Entschuldigung, Parallax versteht nur Fragen auf Englisch, Französisch und Chinesisch.",
    "es": "Lo siento, Parallax solo entiende preguntas en inglés, francés y chino.",
    "it": "Spiacente, Parallax comprende solo domande in inglese, francese e cinese.",
    "pt": "Desculpe, o Parallax só entende perguntas em inglês, francês e chinês.",
    "nl": "Sorry, Parallax begrijpt alleen vragen in het Engels, Frans en Chinees.",
    "ru": "Извините, Parallax понимает вопросы только на английском, французском и китайском.",
    "uk": "Вибачте, Parallax розуміє запитання лише англійською, французькою та китайською.",
    "ja": "申し訳ありません。Parallax は英語、フランス語、中国語の質問にのみ対応しています。",
    "ko": "죄송합니다. Parallax는 영어, 프랑스어, 중국어 질문만 이해합니다.",
    "ar": "عذرًا، يفهم Parallax الأسئلة باللغات الإنجليزية والفرنسية والصينية فقط.",
}


@dataclass(frozen=True)
class Language:
    code: str  # "en", "fr", "zh", another ISO 639-1 code, or "unknown"
    supported: bool
    script: str = ""  # for Chinese: "Hans" (Simplified) or "Hant" (Traditional)
    confidence: float = 1.0

    def unsupported_message(self) -> str:
        """A clear message, in the question's language where we have it, then in English."""
        own = UNSUPPORTED_MESSAGES.get(self.code)
        english = UNSUPPORTED_MESSAGES["en"]
        return english if own in (None, english) else f"{own}\n{english}"


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping newlines and tabs) and trim."""
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif ch == "\r":
            continue
        elif unicodedata.category(ch) in ("Cc", "Cs", "Co") or (
                unicodedata.category(ch) == "Cf" and ch != "\u200d"):
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


def detect(text: str) -> Language:
    letters = _LETTER.findall(text)
    if not letters:
        return Language("unknown", False, confidence=0.0)
    n = len(letters)
    kana, hangul = len(_KANA.findall(text)), len(_HANGUL.findall(text))
    han = _HAN.findall(text)
    if kana and kana / n > 0.05:
        return Language("ja", False)
    if hangul and hangul / n > 0.2:
        return Language("ko", False)
    if han and len(han) / n > 0.2:
        trad = sum(ch in _TRADITIONAL for ch in han)
        simp = sum(ch in _SIMPLIFIED for ch in han)
        return Language("zh", True, script="Hant" if trad > simp else "Hans")
    if len(_CYRILLIC.findall(text)) / n > 0.3:
        guess = _langdetect(text, default="ru")
        return Language(guess[0] if guess[0] in ("ru", "uk", "bg", "mk") else "ru", False,
                        confidence=guess[1])
    if len(_ARABIC.findall(text)) / n > 0.3:
        return Language("ar", False)
    return _latin(text)


def _latin(text: str) -> Language:
    """English or French, unless another language is certain.

    Only English and French are answered, so the choice is between them: function words,
    French typography and accents, and langdetect's own odds of the two. Another language is
    named only on strong evidence (langdetect sure of it, several words that are not names,
    hardly an English or French word among them): an English request misread as Romanian or
    Tagalog would be refused, which is worse than answering a rare Italian question in
    English."""
    written = _WORD.findall(text)
    words = [w.lower() for w in written]
    # the words that can witness a language: a capitalised word after the first is a name's
    # ("Aung San Suu Kyi", "Panchen Lama Gedhun Choekyi Nyima", "Kim Il Sung" were German
    # to langdetect, sure of it, and turned away until 2026-12-07), and names say nothing
    # of the language around them
    common = sum(i == 0 or not w[0].isupper() for i, w in enumerate(written))
    en = sum(w in _EN or w.endswith("'s") for w in words)
    fr = sum(w in _FR or w.startswith(("l'", "d'", "qu'", "s'", "c'", "n'", "j'", "m'"))
             for w in words)
    fr += sum(1 for ch in text.lower() if ch in "éèêàçùœâîôû") / 2
    fr += 2 * len(_FRENCH_SPACE.findall(text))  # "1989 ?": a space before ?, !, : or ;
    probs = _langdetect_all(text)
    code, conf = _top(probs, "unknown")
    if "¿" in text or "¡" in text or "ñ" in text.lower():
        return Language("es", False, confidence=max(conf, 0.9))
    if (code not in ("en", "fr", "unknown") and conf >= 0.95 and common >= 4
            and en + fr <= max(2.0, 0.3 * len(words))):
        return Language(code, False, confidence=conf)
    if max(en, fr) >= 1 and max(en, fr) >= 2 * min(en, fr):
        return Language("en" if en > fr else "fr", True,
                        confidence=max(0.6, probs.get("en" if en > fr else "fr", 0.0)))
    p_en, p_fr = probs.get("en", 0.0), probs.get("fr", 0.0)
    # one to three words with no sign of either language ("Dalai Lama", "Hong Kong 2019"):
    # too short for statistics
    if p_fr > p_en and (p_fr >= 0.5 or fr > en) and (len(words) > 3 or fr > 0 or p_fr >= 0.99):
        return Language("fr", True, confidence=p_fr)
    if not words and not en and not fr:
        return Language("unknown", False, confidence=0.0)
    # a bare name or subject ("Taiwan?", "Dalai Lama"): English, the likeliest language of a
    # name, unless it looks French
    return Language("fr" if fr > en else "en", True, confidence=max(p_en, 0.3))


def _detector_factory() -> DetectorFactory:
    global _factory
    if _factory is None:
        import json
        from pathlib import Path

        factory = DetectorFactory()
        factory.seed = 0  # deterministic
        for index, code in enumerate(PROFILES):
            data = json.loads((Path(PROFILES_DIRECTORY) / code).read_text(encoding="utf-8"))
            factory.add_profile(LangProfile(**data), index, len(PROFILES))
        _factory = factory
    return _factory


def _langdetect_all(text: str) -> dict[str, float]:
    """langdetect's probability of each loaded language (seeded: deterministic)."""
    try:
        detector = _detector_factory().create()
        detector.append(text)
        langs = detector.get_probabilities()
    except LangDetectException:
        return {}
    return {lang.lang.split("-")[0]: float(lang.prob) for lang in langs}


def _top(probs: dict[str, float], default: str) -> tuple[str, float]:
    """The likeliest language and its probability (``default``, 0 when there is none)."""
    if not probs:
        return default, 0.0
    code = max(probs, key=probs.__getitem__)  # the first of equals, as langdetect ranks them
    return code, probs[code]


def _langdetect(text: str, default: str) -> tuple[str, float]:
    return _top(_langdetect_all(text), default)
