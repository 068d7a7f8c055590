"""Encrypt secrets at rest under keys derived from SECRET_KEY, one derivation per purpose."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class Unsealable(RuntimeError):
    """The stored secret cannot be decrypted: SECRET_KEY changed without SECRET_KEY_FALLBACKS."""


def _fernet_for(secret: str, purpose: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def cipher(purpose: bytes) -> MultiFernet:
    """Encrypt with SECRET_KEY; still decrypt with SECRET_KEY_FALLBACKS while a rotation settles."""
    secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(secret, purpose) for secret in secrets_])


def seal(purpose: bytes, plain: bytes) -> str:
    return cipher(purpose).encrypt(plain).decode()


def unseal(purpose: bytes, token: str) -> bytes:
    try:
        return cipher(purpose).decrypt(token.encode())
    except InvalidToken:
        raise Unsealable("a stored secret cannot be decrypted: SECRET_KEY changed without SECRET_KEY_FALLBACKS")
