"""`$regex` and `$search` on SQLite through RE2: linear time, and the GIL released while it matches.

Python's `re` backtracks: `.{0,20}` six times then `Z` costs ~20× more per group, and one call
holds the GIL for its whole run, so every other thread of the process (other requests, the
server's event loop, `/healthz`) stops until it ends. RE2 runs in time linear in the text and
releases the GIL, and the engine's per-query time budget stops a query between two calls.

Patterns come from `regex.py`'s safe subset; they are translated so that RE2 reads them the way
PostgreSQL does: `.` also matches a newline, `$` only at the very end, and `\\w \\d \\s` are Unicode
classes (RE2's own are ASCII only).
"""

from __future__ import annotations

import functools

import re2
from django.db.backends.signals import connection_created

FUNCTION = "basalt_regexp"
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}"
# Outside a class each escape is a whole class; inside one, only its members are spliced in.
_OUTSIDE = {
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_INSIDE = {"w": _WORD, "d": r"\p{Nd}", "D": r"\P{Nd}", "s": _SPACE}
_OPTIONS = re2.Options()
_OPTIONS.max_mem = 8 << 20  # RE2's default; a pattern needing more is refused, not slow


class RegexTooComplex(ValueError):
    """RE2 cannot compile the pattern within its memory bound."""


def translate(pattern: str, ignore_case: bool = False) -> str:
    """Rewrite a safe-subset pattern (already checked by `regex.check_regex`) into RE2 syntax."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            # A leading `^` and then a leading `]` are literal parts of the class opening.
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append(r"\]")
                i += 1
            continue
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return ("(?si)" if ignore_case else "(?s)") + "".join(out)


def word_pattern(token: str) -> str:
    """An RE2 pattern matching `token` as a whole word (the unit `$search` matches on), any case."""
    return f"(?i)(?:^|[^{_WORD}]){re2.escape(token)}(?:[^{_WORD}]|$)"


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise RegexTooComplex(str(exc)) from None


def regexp(pattern: str | None, value: str | None) -> int | None:
    """SQLite's `basalt_regexp(pattern, value)`: 1 when the RE2 pattern occurs in the text."""
    if pattern is None or value is None:
        return None
    if not isinstance(value, str):
        return 0
    return int(compiled(pattern).search(value) is not None)


def _register(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 2, regexp, deterministic=True)


def install() -> None:
    connection_created.connect(_register, dispatch_uid="basalt.documents.query.re2match")
