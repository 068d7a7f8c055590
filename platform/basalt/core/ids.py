"""Random, URL-safe identifiers that cannot collide with principal names like `*` or `role:x`."""

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_BASE = len(_ALPHABET)


def random_id(length: int = 20, prefix: str = "") -> str:
    # One uniform draw below 36**length, written in base 36: every character is uniform and
    # independent, as with a choice per character, for one read of the OS random source instead
    # of one per character (a create spent 7% of its time here).
    number = secrets.randbelow(_BASE**length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, _BASE)
        chars.append(_ALPHABET[digit])
    return prefix + "".join(chars)
