"""OpenAPI 3.1 fragment for API.md §4 (auth) and the roles API, for the platform document to merge.

`paths()` and `components()` use the `Error` component and the `apiKey` security scheme of the
documents area's builder; `bearer` is added here for end-user access tokens.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
S = "#/components/schemas/"


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "Error", "content": {"application/json": {"schema": ERROR}}} for s in statuses}


def _json(ref_or_schema: str | dict[str, Any]) -> dict[str, Any]:
    schema = {"$ref": S + ref_or_schema} if isinstance(ref_or_schema, str) else ref_or_schema
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    op_id: str,
    *,
    body: str | dict | None = None,
    ok: tuple[int, str | dict | None] = (200, None),
    errors: tuple[int, ...] = (400, 401),
    bearer: bool = False,
    or_mfa_token: bool = False,
    tag: str = "auth",
    body_required: bool = True,
) -> dict[str, Any]:
    status, schema = ok
    response: dict[str, Any] = {"description": "OK"}
    if schema is not None:
        response.update(_json(schema))
    operation: dict[str, Any] = {
        "operationId": op_id,
        "tags": [tag],
        "responses": {str(status): response, **_errors(*errors)},
    }
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body)}
    if bearer:
        operation["security"] = [{"apiKey": [], "bearer": []}]
        if or_mfa_token:
            # Or signed out, the body's `mfa_token` standing for the session (a sign-in that needs MFA).
            operation["security"].append({"apiKey": []})
    return operation


def _written(operation: dict[str, Any]) -> dict[str, Any]:
    """A membership write by a caller who may write but not read the role answers 204, no body."""
    operation["responses"]["204"] = {"description": "Changed; the caller may not read the role."}
    return operation


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}


def paths() -> dict[str, Any]:
    role = [_path_param("name")]
    return {
        "/api/v1/auth/signup": {
            "post": _op("signUp", body="SignUp", ok=(201, "SignedIn"), errors=(400, 401, 403, 409, 429))
        },
        "/api/v1/auth/login": {"post": _op("logIn", body="LogIn", ok=(200, "SignedIn"), errors=(400, 401, 403, 429))},
        "/api/v1/auth/refresh": {"post": _op("refreshTokens", body="Refresh", ok=(200, "TokenPair"))},
        "/api/v1/auth/logout": {"post": _op("logOut", ok=(204, None), bearer=True)},
        "/api/v1/auth/anonymous": {"post": _op("signInAnonymously", ok=(201, "SignedIn"), errors=(401, 403))},
        "/api/v1/auth/me": {
            "get": _op("getMe", ok=(200, "EndUser"), bearer=True),
            "patch": _op("updateMe", body="MeUpdate", ok=(200, "EndUser"), errors=(400, 401, 409), bearer=True),
            "delete": _op("deleteMe", ok=(204, None), bearer=True),
        },
        "/api/v1/auth/users/{user_id}": {
            "parameters": [_path_param("user_id")],
            "get": _op("adminGetUser", ok=(200, "AdminUser"), errors=(401, 403, 404)),
            "patch": _op("adminUpdateUser", body="AdminUserUpdate", ok=(200, "AdminUser"), errors=(400, 401, 403, 404)),
            "delete": _op("adminDeleteUser", ok=(204, None), errors=(401, 403, 404)),
        },
        "/api/v1/auth/users/{user_id}/sessions": {
            "parameters": [_path_param("user_id")],
            "delete": _op("adminRevokeUserSessions", ok=(204, None), errors=(401, 403, 404)),
        },
        "/api/v1/auth/sessions": {"get": _op("listSessions", ok=(200, "SessionList"), bearer=True)},
        "/api/v1/auth/sessions/{id}": {
            "parameters": [_path_param("id")],
            "delete": _op("revokeSession", ok=(204, None), errors=(401, 404), bearer=True),
        },
        "/api/v1/auth/verify/request": {"post": _op("requestVerification", body="EmailOptional", ok=(202, "Accepted"))},
        "/api/v1/auth/verify/confirm": {"post": _op("confirmVerification", body="Code", ok=(200, "Verified"))},
        "/api/v1/auth/password/reset": {"post": _op("requestPasswordReset", body="Email", ok=(202, "Accepted"))},
        "/api/v1/auth/password/reset/confirm": {
            "post": _op("confirmPasswordReset", body="ResetConfirm", ok=(204, None))
        },
        "/api/v1/auth/jwks.json": {"get": _op("getJwks", ok=(200, "Jwks"), errors=(401,))},
        "/api/v1/auth/keys/rotate": {"post": _op("rotateSigningKey", ok=(201, "Jwks"), errors=(401, 403))},
        **_provider_paths(),
        "/api/v1/roles": {
            "get": _op("listRoles", ok=(200, "RoleList"), errors=(401, 403), tag="roles"),
            "post": _op("createRole", body="RoleCreate", ok=(201, "Role"), errors=(400, 401, 403, 409), tag="roles"),
        },
        "/api/v1/roles/{name}": {
            "parameters": role,
            "get": _op("getRole", ok=(200, "Role"), errors=(401, 404), tag="roles"),
            # An empty PATCH changes nothing and is answered with the role.
            "patch": _op(
                "updateRole",
                body="RoleUpdate",
                ok=(200, "Role"),
                errors=(400, 401, 403, 404, 409),
                tag="roles",
                body_required=False,
            ),
            "delete": _op("deleteRole", ok=(204, None), errors=(401, 403, 404), tag="roles"),
        },
        "/api/v1/roles/{name}/users": {
            "parameters": role,
            "post": _written(
                _op("addRoleUsers", body="Ids", ok=(200, "Role"), errors=(400, 401, 403, 404), tag="roles")
            ),
        },
        "/api/v1/roles/{name}/users/{user_id}": {
            "parameters": [*role, _path_param("user_id")],
            "delete": _op("removeRoleUser", ok=(204, None), errors=(401, 403, 404), tag="roles"),
        },
        "/api/v1/roles/{name}/roles": {
            "parameters": role,
            "post": _written(
                _op("addRoleRoles", body="Names", ok=(200, "Role"), errors=(400, 401, 403, 404), tag="roles")
            ),
        },
        "/api/v1/roles/{name}/roles/{child}": {
            "parameters": [*role, _path_param("child")],
            "delete": _op("removeRoleRole", ok=(204, None), errors=(401, 403, 404), tag="roles"),
        },
    }


def _redirect(op_id: str, params: list[dict[str, Any]], errors: tuple[int, ...]) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "tags": ["auth"],
        "parameters": params,
        "responses": {"302": {"description": "Redirect (to the provider, or back to redirect_to)"}, **_errors(*errors)},
    }


def _query(name: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "string", "maxLength": 2048}}


def _provider_paths() -> dict[str, Any]:
    provider = [_path_param("provider")]
    signed_in_errors = (400, 401, 403, 404, 409, 429, 503)
    return {
        "/api/v1/auth/providers/exchange": {
            "post": _op("exchangeProviderCode", body="OneTimeCode", ok=(200, "SignedIn"), errors=(400, 401, 403))
        },
        "/api/v1/auth/providers/{provider}": {
            "parameters": provider,
            "post": _op("signInWithProvider", body="ProviderProof", ok=(200, "SignedIn"), errors=signed_in_errors),
        },
        "/api/v1/auth/providers/{provider}/authorize": {
            "parameters": provider,
            "get": _redirect(
                "authorizeWithProvider", [_query("redirect_to", True), _query("apikey")], (400, 401, 403, 404, 503)
            ),
        },
        "/api/v1/auth/providers/{provider}/callback": {
            "parameters": provider,
            "get": _redirect(
                "providerCallback", [_query("state"), _query("code"), _query("error")], (400, 401, 403, 404, 503)
            ),
        },
        "/api/v1/auth/me/identities": {"get": _op("listIdentities", ok=(200, "IdentityList"), bearer=True)},
        "/api/v1/auth/me/identities/{provider}": {
            "parameters": provider,
            "post": _op("linkIdentity", body="ProviderProof", ok=(201, "Linked"), errors=signed_in_errors, bearer=True),
            "delete": _op("unlinkIdentity", ok=(204, None), errors=(401, 404, 409), bearer=True),
        },
        "/api/v1/auth/mfa": {"get": _op("getMfa", ok=(200, "MfaState"), bearer=True)},
        "/api/v1/auth/mfa/totp/enroll": {
            "post": _op(
                "enrollTotp",
                body="MfaTokenOptional",
                ok=(200, "TotpSecret"),
                errors=(400, 401, 409, 429),
                bearer=True,
                or_mfa_token=True,
                body_required=False,
            )
        },
        "/api/v1/auth/mfa/totp/confirm": {
            "post": _op(
                "confirmTotp",
                body="MfaCode",
                ok=(200, "RecoveryCodes"),
                errors=(400, 401, 409, 429),
                bearer=True,
                or_mfa_token=True,
            )
        },
        "/api/v1/auth/mfa/totp": {"delete": _op("removeTotp", ok=(204, None), errors=(401, 403), bearer=True)},
        "/api/v1/auth/mfa/verify": {
            "post": _op("verifyMfa", body="MfaVerify", ok=(200, "SignedIn"), errors=(400, 401, 429))
        },
        "/api/v1/auth/passkeys/register/options": {
            "post": _op("passkeyRegisterOptions", ok=(200, "PasskeyOptions"), errors=(400, 401, 403), bearer=True)
        },
        "/api/v1/auth/passkeys/register": {
            "post": _op(
                "registerPasskey",
                body="PasskeyCredential",
                ok=(201, "Passkey"),
                errors=(400, 401, 403, 409),
                bearer=True,
            )
        },
        "/api/v1/auth/passkeys/login/options": {
            "post": _op(
                "passkeyLoginOptions",
                body="MfaTokenOptional",
                ok=(200, "PasskeyOptions"),
                errors=(400, 401, 403),
                body_required=False,
            )
        },
        "/api/v1/auth/passkeys/login": {
            "post": _op("signInWithPasskey", body="PasskeyCredential", ok=(200, "SignedIn"), errors=(400, 401, 403))
        },
        "/api/v1/auth/passkeys": {"get": _op("listPasskeys", ok=(200, "PasskeyList"), bearer=True)},
        "/api/v1/auth/passkeys/{passkey_id}": {
            "parameters": [_path_param("passkey_id")],
            "delete": _op("removePasskey", ok=(204, None), errors=(401, 404, 409), bearer=True),
        },
        "/api/v1/auth/users/{user_id}/mfa": {
            "parameters": [_path_param("user_id")],
            "delete": _op("adminResetMfa", ok=(204, None), errors=(401, 403, 404)),
        },
    }


def _obj(properties: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = required
    return schema


STR = {"type": "string"}
EMAIL = {"type": "string", "format": "email", "maxLength": 254}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 256, "writeOnly": True}
TIME = {"type": "string", "format": "date-time"}


def components() -> dict[str, Any]:
    acl = {"type": "object", "additionalProperties": _obj({"read": {"type": "boolean"}, "write": {"type": "boolean"}})}
    token_pair = {
        "access_token": STR,
        "refresh_token": STR,
        "expires_in": {"type": "integer"},
        "token_type": {"const": "Bearer"},
        "session_id": STR,
    }
    return {
        "SignUp": _obj(
            {"email": EMAIL, "password": PASSWORD, "username": {"type": "string", "maxLength": 32}},
            ["password"],
            extra=True,
        ),
        "LogIn": _obj({"email": EMAIL, "username": STR, "password": PASSWORD}, ["password"]),
        "Refresh": _obj({"refresh_token": STR}, ["refresh_token"]),
        # The mail requests ignore other keys (the answer is 202 whatever the account), so say so.
        "Email": _obj({"email": EMAIL}, ["email"], extra=True),
        "EmailOptional": _obj({"email": EMAIL}, extra=True),
        "Code": _obj({"token": STR}, ["token"]),
        "ResetConfirm": _obj({"token": STR, "password": PASSWORD}, ["token", "password"]),
        "MeUpdate": _obj(
            {
                "email": EMAIL,
                "username": {"type": ["string", "null"]},
                "password": PASSWORD,
                "current_password": PASSWORD,
            },
            extra=True,
        ),
        "EndUser": _obj(
            {
                "id": STR,
                "email": {"type": ["string", "null"]},
                "username": {"type": ["string", "null"]},
                "email_verified": {"type": "boolean"},
                "is_anonymous": {"type": "boolean"},
                "created_at": TIME,
                "updated_at": TIME,
            },
            ["id"],
            extra=True,
        ),
        "PendingUser": _obj(
            {
                "email": {"type": ["string", "null"]},
                "username": {"type": ["string", "null"]},
                "email_verified": {"type": "boolean"},
                "is_anonymous": {"type": "boolean"},
            },
            ["email_verified"],
            extra=True,
        ),
        "AdminUser": {"allOf": [{"$ref": S + "EndUser"}, _obj({"disabled": {"type": "boolean"}}, extra=True)]},
        "AdminUserUpdate": _obj({"disabled": {"type": "boolean"}, "email_verified": {"type": "boolean"}}),
        "TokenPair": _obj(token_pair, ["access_token", "refresh_token", "expires_in"]),
        "SignedIn": _obj(
            {
                # With email confirmation on, sign-up answers a PendingUser (no id until confirmed).
                "user": {"anyOf": [{"$ref": S + "EndUser"}, {"$ref": S + "PendingUser"}]},
                **{k: ({"type": [v["type"], "null"]} if "type" in v else v) for k, v in token_pair.items()},
            },
            ["user"],
        ),
        "Session": _obj(
            {
                "id": STR,
                "current": {"type": "boolean"},
                "user_agent": STR,
                "ip": STR,
                "created_at": TIME,
                "last_used_at": TIME,
            }
        ),
        "SessionList": _obj({"results": {"type": "array", "items": {"$ref": S + "Session"}}}),
        "Accepted": _obj({"status": STR}),
        "Verified": _obj({"email_verified": {"type": "boolean"}}),
        "Jwks": _obj({"kid": STR, "keys": {"type": "array", "items": {"type": "object"}}}),
        "RoleCreate": _obj(
            {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,62}$"},
                "acl": acl,
                "users": {"type": "array", "items": STR},
                "roles": {"type": "array", "items": STR},
            },
            ["name"],
        ),
        "RoleUpdate": _obj({"name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,62}$"}, "acl": acl}),
        "Role": _obj(
            {
                "id": STR,
                "name": STR,
                "acl": acl,
                "users": {"type": "array", "items": STR},
                "roles": {"type": "array", "items": STR},
                "created_at": TIME,
                "updated_at": TIME,
            }
        ),
        "ProviderProof": _obj(
            {
                "id_token": {"type": "string", "maxLength": 16384},
                "nonce": {"type": "string", "maxLength": 512},
                "code": {"type": "string", "maxLength": 2048},
                "code_verifier": {"type": "string", "minLength": 43, "maxLength": 128},
                "redirect_uri": STR,
                "name": {"type": "string", "maxLength": 200},
                "user": {"type": "object"},
            }
        ),
        "OneTimeCode": _obj({"code": STR}, ["code"]),
        "Identity": _obj(
            {
                "provider": STR,
                "subject": STR,
                "email": {"type": ["string", "null"]},
                "email_verified": {"type": "boolean"},
                "profile": {"type": "object"},
                "created_at": TIME,
                "last_sign_in_at": TIME,
            }
        ),
        "IdentityList": _obj({"results": {"type": "array", "items": {"$ref": S + "Identity"}}}),
        "Linked": _obj(
            {"user": {"$ref": S + "EndUser"}, "identities": {"type": "array", "items": {"$ref": S + "Identity"}}}
        ),
        "MfaState": _obj({"methods": {"type": "array", "items": STR}, "required": {"type": "boolean"}}),
        "MfaTokenOptional": _obj({"mfa_token": STR}),
        "MfaCode": _obj({"code": {"type": "string", "maxLength": 64}, "mfa_token": STR}, ["code"]),
        "MfaVerify": _obj({"mfa_token": STR, "code": {"type": "string", "maxLength": 64}}, ["mfa_token", "code"]),
        "PasskeyOptions": _obj({"challenge_id": STR, "options": {"type": "object"}}),
        "PasskeyCredential": _obj(
            {"challenge_id": STR, "credential": {"type": "object"}, "mfa_token": STR}, ["challenge_id", "credential"]
        ),
        "Passkey": _obj(
            {
                "id": {"type": "integer"},
                "credential_id": STR,
                "created_at": TIME,
                "last_used_at": {"type": ["string", "null"]},
            }
        ),
        "PasskeyList": _obj({"results": {"type": "array", "items": {"$ref": S + "Passkey"}}}),
        "TotpSecret": _obj({"secret": STR, "otpauth_uri": STR}),
        "RecoveryCodes": _obj({"recovery_codes": {"type": "array", "items": STR}}, extra=True),
        "RoleList": _obj({"results": {"type": "array", "items": {"$ref": S + "Role"}}}),
        "Ids": _obj({"ids": {"type": "array", "items": STR, "maxItems": 1000}}, ["ids"]),
        "Names": _obj({"names": {"type": "array", "items": STR, "maxItems": 1000}}, ["names"]),
    }


def security_schemes() -> dict[str, Any]:
    return {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
