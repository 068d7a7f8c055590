"""Local keys standing in for real provider credentials (a service account, an APNs .p8, VAPID)."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@functools.cache
def rsa_pem() -> str:
    """One RSA key per test run; a subprocess is handed the same one in PUSH_TEST_RSA_PEM."""
    import os

    if os.environ.get("PUSH_TEST_RSA_PEM"):
        return os.environ["PUSH_TEST_RSA_PEM"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account(token_uri: str, project_id: str = "demo-project") -> dict:
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "k1",
        "private_key": rsa_pem(),
        "client_email": f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


@functools.cache
def p8() -> tuple[str, object]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def apns_section(sandbox: bool = True) -> dict:
    return {
        "key": p8()[0],
        "key_id": "ABCDE12345",
        "team_id": "TEAM123456",
        "bundle_id": "com.example.app",
        "sandbox": sandbox,
    }
