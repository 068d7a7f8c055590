"""A safe regular-expression subset that PostgreSQL (ARE) and Python `re` read the same way.

Quantifiers apply to single atoms only (a character, an escape, `.` or a `[...]` class), never to
a group, so patterns like `(a+)+` or `(a|a)*` that backtrack exponentially cannot be written;
back-references, look-arounds, inline flags and POSIX classes are refused because the two
engines disagree on them. At most a few unbounded quantifiers are allowed per pattern.
"""

from __future__ import annotations

MAX_UNBOUNDED = 4
MAX_REPEAT = 100
# Escapes that mean the same in both engines; letters not listed (\b, \A, \Z, \1…) are refused.
_CLASS_ESCAPES = set("dDwWsS")
_LITERAL_ESCAPES = set("\\.^$|?*+()[]{}/-")


class UnsafeRegex(ValueError):
    """The pattern is outside the safe subset; the message says why."""


def check_regex(pattern: str) -> None:
    """Raise UnsafeRegex unless `pattern` is in the safe, portable subset."""
    i, n = 0, len(pattern)
    depth = 0
    unbounded = 0
    prev_atom = False  # whether a quantifier may follow here
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            _check_escape(pattern, i)
            i += 2
            prev_atom = True
            continue
        if ch == "[":
            i = _skip_class(pattern, i)
            prev_atom = True
            continue
        if ch == "(":
            if pattern.startswith("(?", i):
                raise UnsafeRegex("Groups starting with (? (look-arounds, flags, named groups) are not supported.")
            depth += 1
            i += 1
            prev_atom = False
            continue
        if ch == ")":
            if depth == 0:
                raise UnsafeRegex("Unbalanced parenthesis.")
            depth -= 1
            i += 1
            # A quantifier right after a group would repeat the group: refused (nested backtracking).
            if i < n and pattern[i] in "*+?{":
                raise UnsafeRegex("Quantifiers may not follow a group.")
            prev_atom = False
            continue
        if ch in "*+?":
            if not prev_atom:
                raise UnsafeRegex("A quantifier must follow a character, '.', an escape or a class.")
            if ch != "?":
                unbounded += 1
            i += 1
            i = _skip_lazy(pattern, i)
            prev_atom = False
            continue
        if ch == "{":
            if not prev_atom:
                raise UnsafeRegex("A quantifier must follow a character, '.', an escape or a class.")
            i, is_unbounded = _skip_braces(pattern, i)
            unbounded += is_unbounded
            i = _skip_lazy(pattern, i)
            prev_atom = False
            continue
        if ch == "}" or ch == "]":
            raise UnsafeRegex(f"Unescaped {ch!r}.")
        if ch == "\x00":
            raise UnsafeRegex("NUL characters are not allowed.")
        prev_atom = ch not in "|^$"
        i += 1
    if depth:
        raise UnsafeRegex("Unbalanced parenthesis.")
    if unbounded > MAX_UNBOUNDED:
        raise UnsafeRegex(f"At most {MAX_UNBOUNDED} unbounded quantifiers (*, +, {{n,}}) are allowed.")


def _check_escape(pattern: str, i: int) -> None:
    if i + 1 >= len(pattern):
        raise UnsafeRegex("The pattern ends with a lone backslash.")
    nxt = pattern[i + 1]
    if nxt not in _CLASS_ESCAPES and nxt not in _LITERAL_ESCAPES:
        raise UnsafeRegex(f"The escape \\{nxt} is not supported.")


def _skip_class(pattern: str, i: int) -> int:
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a leading ']' is literal in both engines
    while j < len(pattern):
        ch = pattern[j]
        if ch == "\\":
            _check_escape(pattern, j)
            if pattern[j + 1] in "WS":
                # Their complement cannot be spliced into a class in RE2, and PostgreSQL forbids them there.
                raise UnsafeRegex(f"\\{pattern[j + 1]} is not supported inside [...]; use [^...] instead.")
            j += 2
            continue
        if ch == "[":
            raise UnsafeRegex("Nested '[' (POSIX classes) are not supported; escape it as \\[.")
        if ch == "]":
            return j + 1
        j += 1
    raise UnsafeRegex("Unterminated character class.")


def _skip_braces(pattern: str, i: int) -> tuple[int, int]:
    end = pattern.find("}", i)
    if end < 0:
        raise UnsafeRegex("Unterminated {…} quantifier.")
    body = pattern[i + 1 : end]
    low, sep, high = body.partition(",")
    if not (low.isascii() and low.isdigit()) or (high and not (high.isascii() and high.isdigit())):
        raise UnsafeRegex("A {…} quantifier must be {n}, {n,} or {n,m}.")
    if int(low) > MAX_REPEAT or (high and (int(high) > MAX_REPEAT or int(high) < int(low))):
        raise UnsafeRegex(f"Repeat counts must be ordered and at most {MAX_REPEAT}.")
    return end + 1, int(bool(sep and not high))


def _skip_lazy(pattern: str, i: int) -> int:
    if i < len(pattern) and pattern[i] == "?":
        return i + 1
    if i < len(pattern) and pattern[i] in "*+{":
        raise UnsafeRegex("Stacked quantifiers are not supported.")
    return i
