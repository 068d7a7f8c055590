"""Users' second factors in archives: TOTP factors, recovery codes and passkeys travel with their user.

Without them a restored or cloned project would let every user who had a second factor in with
the password alone. A TOTP secret stays sealed with this install's key (SECRET_KEY) in the
archive, exactly as it is stored: the archive never holds it in clear. An import opens each one
with its own SECRET_KEY or SECRET_KEY_FALLBACKS and seals it again with its current key; one
it cannot open refuses the whole import (`mfa_unsealable`, nothing imported), because
importing the user without the factor would quietly drop it. To move such an archive to
another install, add the source's SECRET_KEY to SECRET_KEY_FALLBACKS there for the import.
Recovery codes are SHA-256 hashes and passkeys public keys: both travel as they are stored (a
passkey works where the app keeps the same relying-party domain).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from basalt.identity.keys import decrypt_secret, encrypt_secret
from basalt.identity.mfa import SECRET_PURPOSE
from basalt.identity.models import MfaFactor, Passkey, RecoveryCode
from basalt.operations.archive import refuse

_FACTOR = ("user_id", "kind", "secret_encrypted", "confirmed_at", "last_step", "created_at")
_CODE = ("user_id", "code_hash", "used_at")
_PASSKEY = ("user_id", "credential_id", "public_key", "sign_count", "transports", "created_at", "last_used_at")


def for_users(user_ids: Iterable[str], iso) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """user id → {"mfa": [...], "recovery_codes": [...], "passkeys": [...]} (three queries per page of users)."""
    ids = list(user_ids)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for part, model, fields in (
        ("mfa", MfaFactor, _FACTOR),
        ("recovery_codes", RecoveryCode, _CODE),
        ("passkeys", Passkey, _PASSKEY),
    ):
        for row in model.objects.filter(user_id__in=ids).values(*fields):
            owner = row.pop("user_id")
            row = {k: iso(v) if k.endswith("_at") else v for k, v in row.items()}
            out.setdefault(owner, {}).setdefault(part, []).append(row)
    return out


def _list(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise refuse("invalid_row", f"{where}: second factors must be lists of objects.")
    return value


def _reseal(sealed: Any, where: str) -> str:
    if not isinstance(sealed, str) or not 0 < len(sealed) <= 4096:
        raise refuse("invalid_row", f"{where}: a second factor's sealed secret must be text.")
    try:
        return encrypt_secret(decrypt_secret(sealed, SECRET_PURPOSE), SECRET_PURPOSE)
    except RuntimeError:
        raise refuse(
            "mfa_unsealable",
            f"{where}: a second factor is sealed with another install's SECRET_KEY. Add that key to "
            "SECRET_KEY_FALLBACKS on this install for the import, then remove it.",
        ) from None


def rows_for(project, user_id: str, row: dict[str, Any], where: str, text, number, time) -> list[tuple[str, Any]]:
    """The factor rows of one archived user, checked (`text`, `number`, `time`: the importer's checks)."""
    out: list[tuple[str, Any]] = []
    for factor in _list(row.get("mfa"), where):
        out.append((
            "mfa",
            MfaFactor(
                project=project, user_id=user_id, kind=text(factor.get("kind"), where, 16),
                secret_encrypted=_reseal(factor.get("secret_encrypted"), where),
                confirmed_at=time(factor.get("confirmed_at"), where, optional=True),
                last_step=number(factor.get("last_step", 0), where), created_at=time(factor.get("created_at"), where),
            ),
        ))  # fmt: skip
    for code in _list(row.get("recovery_codes"), where):
        out.append((
            "recovery_codes",
            RecoveryCode(
                user_id=user_id, code_hash=text(code.get("code_hash"), where, 64),
                used_at=time(code.get("used_at"), where, optional=True),
            ),
        ))  # fmt: skip
    for passkey in _list(row.get("passkeys"), where):
        transports = passkey.get("transports", [])
        if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
            raise refuse("invalid_row", f"{where}: a passkey's transports must be a list of text.")
        out.append((
            "passkeys",
            Passkey(
                project=project, user_id=user_id, credential_id=text(passkey.get("credential_id"), where, 1400),
                public_key=text(passkey.get("public_key"), where, 4096),
                sign_count=number(passkey.get("sign_count", 0), where), transports=transports[:16],
                created_at=time(passkey.get("created_at"), where),
                last_used_at=time(passkey.get("last_used_at"), where, optional=True),
            ),
        ))  # fmt: skip
    return out
