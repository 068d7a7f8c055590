"""Random, URL-safe identifiers that cannot collide with principal names like `*` or `role:x`."""

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def random_id(length: int = 20, prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))
