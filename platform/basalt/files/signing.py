"""Short-lived signed content URLs (`?token=`), bound to the project, the file, the key and the expiry.

The token names the API key that minted it: revoking that key ends its URLs at once. A token whose
signature does not match (any byte changed, another file, another expiry) is 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings

from basalt.core.errors import PermissionDenied
from basalt.projects.models import ApiKey

MAX_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_EXPIRES_IN = 3600


def _mac(project_id: int, file_id: str, key_id: str, expires: int) -> str:
    message = f"files.v1|{project_id}|{file_id}|{key_id}|{expires}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(project_id: int, file_id: str, key_id: str, expires_in: int) -> tuple[str, int]:
    expires = int(time.time()) + expires_in
    return f"{expires}.{key_id}.{_mac(project_id, file_id, key_id, expires)}", expires


def verify(token: str, file_id: str) -> int:
    """The project id the token was minted for, or 403."""
    denied = PermissionDenied("The signed URL is invalid or has expired.")
    if not isinstance(token, str) or len(token) > 200:
        raise denied
    parts = token.split(".")
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or len(parts[0]) > 12:
        raise denied
    expires, key_id, mac = int(parts[0]), parts[1], parts[2]
    if expires < time.time():
        raise denied
    if key_id.startswith("console:"):
        return _console_project(key_id, file_id, expires, mac, denied)
    key = ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).only("project_id").first()
    if key is None or not hmac.compare_digest(mac, _mac(key.project_id, file_id, key_id, expires)):
        raise denied
    return key.project_id


def _console_project(key_id: str, file_id: str, expires: int, mac: str, denied: Exception) -> int:
    """A URL minted in the console lives while its account is active and still a member of the project."""
    from basalt.projects.models import Membership

    account = key_id.removeprefix("console:")
    if not (account.isascii() and account.isdigit()):
        raise denied
    projects = Membership.objects.filter(account_id=int(account), account__is_active=True).values_list(
        "project_id", flat=True
    )
    for project_id in projects:
        if hmac.compare_digest(mac, _mac(project_id, file_id, key_id, expires)):
            return project_id
    raise denied
