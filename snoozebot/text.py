"""Text a plugin controls, made safe for one line of a terminal or a log.

A plugin's error messages, ids, names and tags, and the lines it writes to
stderr, are untrusted: a newline would forge a second message, an ANSI escape
would recolour or clear the terminal, a CR would overwrite what came before.
:func:`one_line` escapes them as Python does in a repr (``\\n``, ``\\x1b``,
``\\u2028``), so every message stays one line and shows what was sent.
See docs/architecture.md ("Plugin text").
"""

from __future__ import annotations

import unicodedata

__all__ = ["has_control", "one_line"]

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})  # control characters, line and paragraph separators


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or char in _BIDI_CONTROLS


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def has_control(text: str) -> bool:
    """True when ``text`` holds a character :func:`one_line` would escape (NUL, ESC, newline, ...)."""
    return not text.isprintable() and any(_unsafe(c) for c in text)


def one_line(text: str) -> str:
    """``text`` with control characters, line separators and bidi controls escaped."""
    if text.isprintable():  # the common case: nothing to look at character by character
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)
