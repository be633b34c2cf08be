"""Class codes and lecturer secrets: short enough to read off a projector, too many to guess.

A class code is 10 characters of Crockford's base32 (no I, L, O, U), shown as ``ABCDE-FGHJK``: 50 bits, so
with joins limited per browser and per server (see :mod:`cnnviz.classroom.store`) finding a live class by
trying codes would take far longer than any course lasts. What a student types is read leniently (any case,
spaces or dashes anywhere, O for 0 and I or L for 1). The lecturer's secret travels only in the lecturer's
link; the database keeps its SHA-256, never the secret itself.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cnnviz.errors import ConfigError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U to misread
CODE_LENGTH = 10
BITS = CODE_LENGTH * 5
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s-]+")
_SECRET = re.compile(r"[A-Za-z0-9_-]{22,64}")


def new_code() -> str:
    """A fresh class code, 10 characters without separators (see :func:`show_code`)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """``ABCDEFGHJK`` as ``ABCDE-FGHJK``: two halves are easier to read aloud."""
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def read_code(text: str) -> str:
    """The code a student typed, normalised; ConfigError with what is wrong when it cannot be one."""
    if not isinstance(text, str) or len(text) > 4 * CODE_LENGTH:
        raise ConfigError(f"A class code has {CODE_LENGTH} letters and digits, like {show_code('7K3QD9XW2M')}.")
    code = _SEPARATORS.sub("", text).upper().translate(_READ_AS)
    if not code:
        raise ConfigError("Enter the class code shown on the lecturer's screen.")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise ConfigError(f"A class code has {CODE_LENGTH} letters and digits, like {show_code('7K3QD9XW2M')}; "
                          "check the code on the lecturer's screen.")
    return code


def new_secret() -> str:
    """The lecturer's secret: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def secret_hash(secret: str) -> str:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: object, stored_hash: str) -> bool:
    """Whether ``secret`` (from a link: user-supplied) is the one whose hash is ``stored_hash``."""
    if not isinstance(secret, str) or _SECRET.fullmatch(secret) is None:
        return False
    return hmac.compare_digest(secret_hash(secret), stored_hash)
