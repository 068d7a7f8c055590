"""Users and sessions: Parse sign-up, log-in, me, log-out, sessions, password reset, verification."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from basalt.core.errors import BasaltError
from basalt.documents import services as documents
from basalt.identity import federation, recovery
from basalt.identity import services as identity
from basalt.identity import sessions as basalt_sessions
from basalt.identity.builtin import USERS, users_schema
from basalt.identity.userdata import USERNAME
from basalt.parse import codec, objects, sessions
from basalt.parse.errors import (
    EMAIL_MISSING,
    OBJECT_NOT_FOUND,
    PASSWORD_MISSING,
    SESSION_MISSING,
    UNSUPPORTED_SERVICE,
    USERNAME_MISSING,
    ParseError,
    from_basalt,
)
from basalt.parse.request import ParseRequest

# Sign-in providers Basalt verifies from a token a Parse client can put in authData.
PROVIDERS = frozenset({"google", "apple", "firebase", "oidc"})
# Basalt-only fields of a rendered user that Parse has no name for.
_DROP = {"is_anonymous"}


def user_to_parse(req: ParseRequest, user: dict[str, Any], token: str | None) -> dict[str, Any]:
    schema = users_schema(req.caller.project)
    out = codec.doc_to_parse(schema, {k: v for k, v in user.items() if k not in _DROP}, req.caller.project)
    if user.get("is_anonymous"):
        out["authData"] = {"anonymous": {"id": user.get("id")}}
    if token:
        out["sessionToken"] = token
    return out


def _session_token(result: dict[str, Any]) -> str:
    return sessions.mint(result["session_id"])


def sign_up(req: ParseRequest) -> tuple[dict[str, Any], dict[str, str]]:
    body = dict(req.data)
    auth_data = body.pop("authData", None)
    if auth_data is not None:
        if not isinstance(auth_data, dict) or len(auth_data) != 1:
            raise ParseError(UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        provider, data = next(iter(auth_data.items()))
        if provider != "anonymous":
            return _provider_sign_in(req, provider, data), {}
        with transaction.atomic():
            result = identity.sign_in_anonymously(req.caller.project, req.client)
            token = _session_token(result)
        user = result["user"]
        out = {"objectId": user["id"], "createdAt": user["created_at"], "sessionToken": token}
        return out, {"Location": f"/parse/users/{user['id']}"}
    username, password = body.pop("username", None), body.pop("password", None)
    if not isinstance(username, str) or not username:
        raise ParseError(USERNAME_MISSING, "bad or missing username")
    if not isinstance(password, str) or not password:
        raise ParseError(PASSWORD_MISSING, "password is required")
    email = body.pop("email", None)
    custom_parse = {k: v for k, v in body.items() if k not in ("ACL", "objectId", "createdAt", "updatedAt")}
    schema = objects.ensure_schema(req.caller, "_User", USERS, custom_parse) if custom_parse else None
    native = codec.body_to_native(schema, custom_parse) if custom_parse else {}
    native.update(_name_and_email(username, email))
    native["password"] = password
    with transaction.atomic():
        result = identity.sign_up(req.caller, native, req.client)
        if not result.get("session_id"):
            # Email confirmation is required before sign-in: no session, as in Parse with
            # preventLoginWithUnverifiedEmail.
            return {"objectId": result["user"].get("id")}, {}
        token = _session_token(result)
    user = result["user"]
    out = {"objectId": user["id"], "createdAt": user["created_at"], "sessionToken": token}
    return out, {"Location": f"/parse/users/{user['id']}"}


# Parse authData keys → the body Basalt's provider takes (OIDC id tokens; see identity.providers).
ID_TOKEN_KEYS = ("id_token", "token")


def _provider_body(provider: str, data: Any) -> dict[str, Any]:
    if provider not in PROVIDERS or not isinstance(data, dict):
        raise ParseError(UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    token = next((data[k] for k in ID_TOKEN_KEYS if isinstance(data.get(k), str)), None)
    if token is None:
        raise ParseError(UNSUPPORTED_SERVICE, f"{provider} authData needs an id_token here.")
    body: dict[str, Any] = {"id_token": token}
    if isinstance(data.get("nonce"), str):
        body["nonce"] = data["nonce"]
    return body


def _provider_error(provider: str, error: BasaltError) -> ParseError:
    if isinstance(error, BasaltError) and error.code in ("invalid_token", "not_found", "provider_disabled"):
        return ParseError(OBJECT_NOT_FOUND, f"{provider.capitalize()} auth is invalid for this user.")
    return from_basalt(error)


def _provider_sign_in(req: ParseRequest, provider: str, data: Any) -> dict[str, Any]:
    """authData with a provider Basalt verifies (google, apple, firebase, oidc): sign in or sign up."""
    body = _provider_body(provider, data)
    try:
        with transaction.atomic():
            result = federation.sign_in(req.caller.project, provider, body, req.client)
            token = _session_token(result)
    except BasaltError as exc:
        raise _provider_error(provider, exc) from None
    return user_to_parse(req, result["user"], token)


def _link_providers(req: ParseRequest, auth_data: Any) -> None:
    """PUT /users/{me} with authData: link each provider given, unlink each given as null."""
    if not isinstance(auth_data, dict):
        raise ParseError(UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    for provider, data in auth_data.items():
        try:
            if data is None:
                federation.unlink(req.caller, provider)
            else:
                federation.link(req.caller, provider, _provider_body(provider, data))
        except BasaltError as exc:
            if exc.code == "account_exists":
                raise ParseError(208, "this auth is already used") from None
            raise _provider_error(provider, exc) from None


def _name_and_email(username: str, email: Any) -> dict[str, Any]:
    """Parse apps often use the email address as the username; Basalt usernames cannot hold `@`,
    so such a username is the account's email (and logs in as one)."""
    if not USERNAME.match(username) and "@" in username:
        if email not in (None, username):
            raise ParseError(125, "The username must be the email address when it contains @.")
        return {"email": username}
    out: dict[str, Any] = {"username": username}
    if email is not None:
        out["email"] = email
    return out


def _credentials(req: ParseRequest) -> tuple[str, str]:
    source = req.params if req.method == "GET" else req.data
    username, password = source.get("username"), source.get("password")
    if not isinstance(username, str) or not username:
        if isinstance(source.get("email"), str) and source["email"]:
            username = source["email"]
        else:
            raise ParseError(USERNAME_MISSING, "username/email is required.")
    if not isinstance(password, str) or not password:
        raise ParseError(PASSWORD_MISSING, "password is required.")
    return username, password


def _login_body(username: str, password: str) -> dict[str, Any]:
    if "@" in username and not USERNAME.match(username):
        return {"email": username, "password": password}
    return {"username": username, "password": password}


def log_in(req: ParseRequest) -> dict[str, Any]:
    username, password = _credentials(req)
    with transaction.atomic():
        result = identity.log_in(req.caller.project, _login_body(username, password), req.client)
        token = _session_token(result)
    return user_to_parse(req, result["user"], token)


def verify_password(req: ParseRequest) -> dict[str, Any]:
    """Check a password without signing in: the session the check opens is closed at once."""
    username, password = _credentials(req)
    with transaction.atomic():
        result = identity.log_in(req.caller.project, _login_body(username, password), req.client)
        basalt_sessions.revoke_sessions(
            basalt_sessions.Session.objects.filter(pk=result["session_id"]), reason="logout"
        )
    return user_to_parse(req, result["user"], None)


def _require_session(req: ParseRequest) -> None:
    if not req.caller.user_id:
        raise ParseError(SESSION_MISSING if not req.session_token else 209, "Session token required.")


def me(req: ParseRequest) -> dict[str, Any]:
    if not req.session_token:
        raise ParseError(209, "Invalid session token")
    _require_session(req)
    return user_to_parse(req, identity.get_me(req.caller), req.session_token)


def get_user(req: ParseRequest, object_id: str) -> dict[str, Any]:
    return objects.get(req, "_User", object_id)


def update_user(req: ParseRequest, object_id: str) -> dict[str, Any]:
    """Own account changes (username, email, password, custom fields) go through identity's
    update_me; anything else (the master key editing a user) through the documents service."""
    body = dict(req.data)
    if req.caller.user_id == object_id:
        if "authData" in body:
            _link_providers(req, body.pop("authData"))
            if not body:
                return {"updatedAt": identity.get_me(req.caller)["updated_at"]}
        native_custom = {k: v for k, v in body.items() if k not in ("username", "email", "password", "ACL", "objectId")}
        schema = objects.ensure_schema(req.caller, "_User", USERS, native_custom) if native_custom else None
        change = codec.body_to_native(schema, native_custom) if native_custom else {}
        for key in ("username", "email", "password"):
            if key in body:
                change[key] = body[key]
        user = identity.update_me(req.caller, change, req.client)
        return {"updatedAt": user["updated_at"]}
    return objects.update(req, "_User", object_id)


def delete_user(req: ParseRequest, object_id: str) -> dict[str, Any]:
    if req.caller.is_secret:
        identity.delete_user(req.caller.project, object_id)
        return {}
    if req.caller.user_id == object_id:
        identity.delete_user(req.caller.project, object_id)
        return {}
    # Not yours: the same answer as a user that does not exist.
    documents.get_document(req.caller, USERS, object_id)
    raise ParseError(OBJECT_NOT_FOUND, "Object not found.")


def log_out(req: ParseRequest) -> dict[str, Any]:
    if not req.session_token:
        raise ParseError(209, "Invalid session token")
    _require_session(req)
    identity.log_out(req.caller)
    return {}


def request_password_reset(req: ParseRequest) -> dict[str, Any]:
    email = req.data.get("email")
    if not isinstance(email, str) or not email:
        raise ParseError(EMAIL_MISSING, "you must provide an email")
    # Always {} (Parse's resetPasswordSuccessOnInvalidEmail): no account enumeration.
    recovery.request_reset(req.caller.project, {"email": email})
    return {}


def request_verification(req: ParseRequest) -> dict[str, Any]:
    email = req.data.get("email")
    if not isinstance(email, str) or not email:
        raise ParseError(EMAIL_MISSING, "you must provide an email")
    recovery.request_verification(req.caller, {"email": email})
    return {}


def _session_out(req: ParseRequest, session: dict[str, Any]) -> dict[str, Any]:
    out = {
        "objectId": session["id"],
        "createdAt": session["created_at"],
        "updatedAt": session["last_used_at"],
        "user": {"__type": "Pointer", "className": "_User", "objectId": req.caller.user_id},
        "createdWith": {"action": "login", "authProvider": "password"},
        "restricted": False,
        "installationId": "",
    }
    if session.get("current") and req.session_token:
        out["sessionToken"] = req.session_token
    return out


def list_sessions(req: ParseRequest) -> dict[str, Any]:
    if not req.caller.user_id:
        if req.caller.is_secret:
            return {"results": []}  # the master key lists no one's sessions here (see the report)
        raise ParseError(209, "Invalid session token")
    return {"results": [_session_out(req, s) for s in identity.my_sessions(req.caller)]}


def session_me(req: ParseRequest) -> dict[str, Any]:
    _require_session(req)
    for session in identity.my_sessions(req.caller):
        if session.get("current"):
            return _session_out(req, session)
    raise ParseError(209, "Invalid session token")


def get_session(req: ParseRequest, object_id: str) -> dict[str, Any]:
    _require_session(req)
    for session in identity.my_sessions(req.caller):
        if session["id"] == object_id:
            return _session_out(req, session)
    raise ParseError(OBJECT_NOT_FOUND, "Object not found.")


def delete_session(req: ParseRequest, object_id: str) -> dict[str, Any]:
    _require_session(req)
    identity.revoke_my_session(req.caller, object_id)
    return {}
