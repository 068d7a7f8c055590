"""One Parse request, decoded: the verb, the body, the query params and the caller.

Parse clients send credentials as X-Parse-* headers, or (the JavaScript SDK) as `_`-prefixed keys
of a text/plain JSON body that also carries the real verb in `_method`; both arrive here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError
from basalt.core.json import json_depth_exceeds
from basalt.identity.services import Client
from basalt.identity.throttle import client_address
from basalt.parse import sessions
from basalt.parse.errors import INVALID_JSON, OBJECT_TOO_LARGE, ParseError, Unauthorized
from basalt.projects.keys import resolve_key

CLIENT_KEYS = ("_JavaScriptKey", "_ClientKey", "_RestAPIKey", "_WindowsKey")
CLIENT_HEADERS = (
    "HTTP_X_PARSE_REST_API_KEY",
    "HTTP_X_PARSE_JAVASCRIPT_KEY",
    "HTTP_X_PARSE_CLIENT_KEY",
    "HTTP_X_PARSE_WINDOWS_KEY",
    "HTTP_X_PARSE_DOTNET_KEY",
)
VERBS = frozenset({"GET", "POST", "PUT", "DELETE"})


@dataclass
class ParseRequest:
    method: str
    path: str
    body: Any
    params: dict[str, Any]
    caller: Caller
    client: Client
    session_token: str | None = None
    installation_id: str | None = None
    credentials: dict[str, str | None] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ParseError(INVALID_JSON, "Invalid JSON: the body must be an object.")
        return self.body

    def sub(self, method: str, path: str, body: Any) -> ParseRequest:
        """A batch sub-request: same caller, its own verb, path and body."""
        params = body if method == "GET" and isinstance(body, dict) else {}
        return ParseRequest(  # as dataclasses.replace, without its per-call field walk
            method,
            path,
            body if method != "GET" else {},
            params,
            self.caller,
            self.client,
            self.session_token,
            self.installation_id,
            self.credentials,
        )


def _decode_body(request: HttpRequest) -> Any:
    meta = request.META
    if request.method == "GET" and not meta.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in meta:
        return {}  # nothing was sent: no stream to read
    raw = request.body
    if len(raw) > settings.BASALT_MAX_JSON_BODY:
        raise ParseError(OBJECT_TOO_LARGE, "The request is too large.")
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ParseError(INVALID_JSON, "Invalid JSON") from None
    if json_depth_exceeds(value):
        raise ParseError(INVALID_JSON, "Invalid JSON: nested too deeply.")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _body_credentials(body: dict[str, Any]) -> tuple[str | None, dict[str, str | None]]:
    """The JavaScript SDK's form: the verb and the credentials travel as `_` keys of the body."""
    override = body.pop("_method", None)
    method = None
    if override is not None:
        if not isinstance(override, str) or override.upper() not in VERBS:
            raise ParseError(INVALID_JSON, "Invalid _method.")
        method = override.upper()
    creds: dict[str, str | None] = {"app": _str(body.pop("_ApplicationId", None))}
    for key in CLIENT_KEYS:
        creds["client"] = creds.get("client") or _str(body.pop(key, None))
    creds["master"] = _str(body.pop("_MasterKey", None))
    creds["session"] = _str(body.pop("_SessionToken", None))
    creds["installation"] = _str(body.pop("_InstallationId", None))
    for key in [k for k in body if isinstance(k, str) and k.startswith("_") and k[1:2].isupper()]:
        body.pop(key)  # _ClientVersion, _RevocableSession, _ContentType, _context: nothing to do
    return method, creds


def decode(request: HttpRequest, path: str, *, raw_body: bool = False) -> ParseRequest:
    """Decode and authenticate; `raw_body` keeps the bytes for file uploads (not JSON)."""
    method = (request.method or "GET").upper()
    body: Any = {} if raw_body else _decode_body(request)
    meta = request.META
    sent: dict[str, str | None] = {}  # the body's credentials win over the headers'
    if isinstance(body, dict) and ("_ApplicationId" in body or "_method" in body):
        override, sent = _body_credentials(body)
        method = override or method
    creds = {
        "app": sent.get("app") or _str(meta.get("HTTP_X_PARSE_APPLICATION_ID")),
        "client": sent.get("client"),
        "master": sent.get("master") or _str(meta.get("HTTP_X_PARSE_MASTER_KEY")),
        "session": sent.get("session") or _str(meta.get("HTTP_X_PARSE_SESSION_TOKEN")),
        "installation": sent.get("installation") or _str(meta.get("HTTP_X_PARSE_INSTALLATION_ID")),
    }
    if not creds["client"]:
        for header in CLIENT_HEADERS:
            if value := _str(meta.get(header)):
                creds["client"] = value
                break
    params: dict[str, Any] = dict(request.GET.items()) if request.method == "GET" else {}
    if method == "GET" and request.method != "GET":
        params = body if isinstance(body, dict) else {}
        body = {}
    caller = authenticate(creds)
    if creds["session"]:
        caller = sessions.resolve(caller, creds["session"])
    client = Client(ip=client_address(request), user_agent=meta.get("HTTP_USER_AGENT", "")[:256])
    return ParseRequest(
        method=method,
        path=path,
        body=body,
        params=params,
        caller=caller,
        client=client,
        session_token=creds["session"],
        installation_id=creds["installation"],
        credentials=creds,
    )


def authenticate(creds: dict[str, str | None]) -> Caller:
    """The application id names the project; the master key must be its secret key, a client key
    one of its publishable keys. Anything else is Parse's bare 403 `unauthorized`."""
    app_id = creds.get("app")
    raw = creds.get("master") or creds.get("client")
    if not app_id or not raw:
        raise Unauthorized()
    try:
        key = resolve_key(raw)
    except BasaltError:
        raise Unauthorized() from None
    expected = "secret" if creds.get("master") else "publishable"
    if key.kind != expected or key.project.ref != app_id:
        raise Unauthorized()
    return Caller.for_key(key)
