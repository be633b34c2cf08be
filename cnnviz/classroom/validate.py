"""What a person may type into the class board (a display name, a class title) and what a page may submit.

Names and titles are refused, with a message saying why, when they are too long, hold control characters or
characters that look like markup (``<b>``, ``**``, ``[link](...)``): the board shows them as text anyway, but
a name that reads as markup would confuse a class reading the projector. What pages submit is checked the same
way, since a page can pass on what a student typed.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from cnnviz.errors import ConfigError

NAME_MAX = 32
TITLE_MAX = 80
_NAME_PUNCTUATION = set(" .-'")
_TITLE_PUNCTUATION = _NAME_PUNCTUATION | set(",:;()/+?!&%")
KINDS = {"builder": "Builder network", "challenge": "Challenge", "practice": "Practice",
         "experiment": "Experiment"}
SUBMISSION_TITLE_MAX = 300
RESULT_MAX = 200


def _text(raw: object, what: str, limit: int, allowed: set[str], required: bool = True) -> str:
    """``raw`` with its spaces tidied, or ConfigError naming ``what`` and the rule it breaks."""
    if not isinstance(raw, str):
        raise ConfigError(f"The {what} must be text.")
    if len(raw) > 4 * limit:  # say "too long" before looking at what it holds: a 10 KB name gets one clear line
        raise ConfigError(f"The {what} is too long ({len(raw):,} characters): at most {limit}.")
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if not text:
        if required:
            raise ConfigError(f"Enter a {what}.")
        return ""
    if len(text) > limit:
        raise ConfigError(f"The {what} is too long ({len(text):,} characters): at most {limit}.")
    bad = sorted({ch for ch in text if not (ch.isalnum() or ch in allowed)})
    if bad:
        shown = " ".join(repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}" for ch in bad[:6])
        raise ConfigError(f"The {what} may hold letters, digits, spaces and {' '.join(sorted(allowed - {' '}))} "
                          f"only, not {shown}.")
    return text


def display_name(raw: object) -> str:
    """A student's display name: 1 to 32 letters, digits, spaces, dots, dashes or apostrophes."""
    return _text(raw, "display name", NAME_MAX, _NAME_PUNCTUATION)


def class_title(raw: object) -> str:
    """A class's title (may be empty: the board then shows its code)."""
    return _text(raw, "class title", TITLE_MAX, _TITLE_PUNCTUATION, required=False)


@dataclass(frozen=True)
class Submission:
    """What a page sends to the class board; ``None`` means unknown (never a silent zero).

    kind: one of :data:`KINDS`; title: what was made (a network's text, a challenge's name, an exercise set);
    params: the network's parameters; accuracy: a fraction in [0, 1] (a test accuracy, a practice score);
    result: a short outcome in words ("target reached", "7 of 10 right").
    """

    kind: str
    title: str
    params: int | None = None
    accuracy: float | None = None
    result: str = ""


def submission(raw: Mapping[str, Any]) -> Submission:
    """A page's submission dict checked into a :class:`Submission`; ConfigError says what is wrong."""
    if not isinstance(raw, Mapping):
        raise ConfigError("A submission is a dict with kind, title, params, accuracy and result.")
    unknown = sorted(set(raw) - set(Submission.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"A submission has no field {', '.join(map(str, unknown))}: it has kind, title, params, "
                          "accuracy and result.")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"A submission's kind is one of {', '.join(KINDS)}, not {str(kind)[:40]!r}.")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("A submission needs a title: what was made.")
    if len(title) > SUBMISSION_TITLE_MAX or any(not ch.isprintable() for ch in title.replace("\n", " ")):
        raise ConfigError(f"A submission's title is at most {SUBMISSION_TITLE_MAX} printable characters.")
    params = raw.get("params")
    if params is not None and (isinstance(params, bool) or not isinstance(params, int) or params < 0
                               or params >= 2 ** 63):
        raise ConfigError("A submission's params is a whole number of parameters (0 or more), or None if unknown.")
    accuracy = raw.get("accuracy")
    if accuracy is not None:
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy) \
                or not 0 <= accuracy <= 1:
            raise ConfigError("A submission's accuracy is a fraction from 0 to 1, or None if unknown.")
        accuracy = float(accuracy)
    result = raw.get("result", "")
    if not isinstance(result, str) or len(result) > RESULT_MAX or not result.isprintable():
        raise ConfigError(f"A submission's result is at most {RESULT_MAX} printable characters on one line.")
    return Submission(kind, " ".join(title.split()), params, accuracy, result.strip())
