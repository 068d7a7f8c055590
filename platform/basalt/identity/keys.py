"""Per-project Ed25519 signing keys: creation, encryption at rest, rotation and the JWKS."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwt.algorithms import OKPAlgorithm

from basalt.core import sealed
from basalt.identity.models import SigningKey
from basalt.projects.models import Project

ALGORITHM = "EdDSA"
# Longest access-token lifetime a project may configure: a retired key is kept at least this long.
MAX_ACCESS_TTL_SECONDS = 24 * 3600


_PURPOSE = b"basalt.identity.signing-key"


def encrypt_private(pem: bytes) -> str:
    return sealed.seal(_PURPOSE, pem)


def decrypt_private(token: str) -> bytes:
    try:
        return sealed.unseal(_PURPOSE, token)
    except sealed.Unsealable:
        raise RuntimeError("signing key cannot be decrypted: SECRET_KEY changed without SECRET_KEY_FALLBACKS")


def _new_key_row(project: Project) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(
        project=project,
        algorithm=ALGORITHM,
        public_pem=public_pem.decode(),
        private_encrypted=encrypt_private(private_pem),
    )


@dataclass(frozen=True)
class VerifyKey:
    kid: str
    project_id: int
    public: Ed25519PublicKey
    verify_until: datetime | None


# Public keys never change once written, so a process may keep them; only `verify_until` moves,
# and it is re-read when a key is retired (see `rotate`).
_verify_cache: dict[str, VerifyKey] = {}
_signing_cache: dict[str, Ed25519PrivateKey] = {}
_lock = threading.Lock()


def active_key(project: Project) -> tuple[str, Ed25519PrivateKey]:
    """The project's active key, created on first use (a unique constraint settles races)."""
    row = SigningKey.objects.filter(project=project, status=SigningKey.ACTIVE).first()
    if row is None:
        try:
            with transaction.atomic():
                row = _new_key_row(project)
                row.save(force_insert=True)
        except IntegrityError:
            row = SigningKey.objects.get(project=project, status=SigningKey.ACTIVE)
    private = _signing_cache.get(row.kid)
    if private is None:
        loaded = serialization.load_pem_private_key(decrypt_private(row.private_encrypted), password=None)
        assert isinstance(loaded, Ed25519PrivateKey)
        with _lock:
            _signing_cache[row.kid] = private = loaded
    return row.kid, private


def verify_key(kid: str) -> VerifyKey | None:
    """The public key for a kid (any project: the caller checks it is the right one)."""
    cached = _verify_cache.get(kid)
    if cached is not None and (cached.verify_until is None or cached.verify_until > timezone.now()):
        return cached
    row = SigningKey.objects.filter(kid=kid).only("kid", "project_id", "public_pem", "verify_until").first()
    if row is None:
        _verify_cache.pop(kid, None)
        return None
    public = serialization.load_pem_public_key(row.public_pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    key = VerifyKey(kid=row.kid, project_id=row.project_id, public=public, verify_until=row.verify_until)
    with _lock:
        _verify_cache[kid] = key
    if key.verify_until is not None and key.verify_until <= timezone.now():
        return None
    return key


@transaction.atomic
def rotate(project: Project) -> str:
    """Make a new active key; the old one keeps verifying until its longest-lived token expires."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    now = timezone.now()
    SigningKey.objects.filter(project=project, status=SigningKey.RETIRED, verify_until__lte=now).delete()
    SigningKey.objects.filter(project=project, status=SigningKey.ACTIVE).update(
        status=SigningKey.RETIRED, retired_at=now, verify_until=now + timedelta(seconds=MAX_ACCESS_TTL_SECONDS)
    )
    row = _new_key_row(project)
    row.save(force_insert=True)
    with _lock:
        _verify_cache.clear()
    return row.kid


def jwks(project: Project) -> dict[str, Any]:
    """The public keys that may have signed a still-valid token of this project."""
    now = timezone.now()
    rows = SigningKey.objects.filter(project=project).filter(Q(verify_until__isnull=True) | Q(verify_until__gt=now))
    keys = []
    for row in rows.order_by("-created_at"):
        jwk = OKPAlgorithm.to_jwk(serialization.load_pem_public_key(row.public_pem.encode()), as_dict=True)
        keys.append({**jwk, "kid": row.kid, "alg": row.algorithm, "use": "sig"})
    return {"keys": keys}
