"""The Parse face's single entry point: decode, route to one handler, render Parse's answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from basalt.core.errors import BasaltError, to_basalt_error
from basalt.documents import changefeed
from basalt.documents.batch import run_loose
from basalt.parse import codec, misc, objects, push, roles, users
from basalt.parse.errors import (
    INTERNAL,
    INVALID_JSON,
    SCRIPT_FAILED,
    ParseError,
    Unauthorized,
    from_basalt,
)
from basalt.parse.request import ParseRequest, decode

logger = logging.getLogger("basalt.parse")

Handler = Callable[..., Any]
_ID = r"(?P<object_id>[^/]{1,64})"
_CLASS = r"(?P<class_name>[^/]{1,100})"


def _no_code(req: ParseRequest, **_: Any) -> Any:
    raise ParseError(SCRIPT_FAILED, "Basalt runs no server code: Cloud Code functions and jobs are not available.")


def _class_route(method: str) -> Handler:
    """`/classes/_User` and friends are the built-in classes' own routes."""

    def handler(req: ParseRequest, class_name: str, object_id: str | None = None) -> Any:
        special = SPECIAL_CLASSES.get(class_name)
        if special is not None:
            target = special.get((method, object_id is not None))
            if target is None:
                raise ParseError(119, f"{method} is not supported on {class_name}.")
            return target(req, object_id) if object_id is not None else target(req)
        if object_id is None:
            return objects.find(req, class_name) if method == "GET" else objects.create(req, class_name)
        return {"GET": objects.get, "PUT": objects.update, "DELETE": objects.delete}[method](req, class_name, object_id)

    return handler


def _find_users(req: ParseRequest) -> Any:
    return objects.find(req, "_User")


SPECIAL_CLASSES: dict[str, dict[tuple[str, bool], Handler]] = {
    "_User": {
        ("GET", False): _find_users,
        ("POST", False): users.sign_up,
        ("GET", True): users.get_user,
        ("PUT", True): users.update_user,
        ("DELETE", True): users.delete_user,
    },
    "_Session": {
        ("GET", False): users.list_sessions,
        ("GET", True): users.get_session,
        ("DELETE", True): users.delete_session,
    },
    "_Installation": {
        ("GET", False): push.find_installations,
        ("POST", False): push.create_installation,
        ("GET", True): push.get_installation,
        ("PUT", True): push.update_installation,
        ("DELETE", True): push.delete_installation,
    },
    "_Role": {
        ("GET", False): roles.find,
        ("POST", False): roles.create,
        ("GET", True): roles.get,
        ("PUT", True): roles.update,
        ("DELETE", True): roles.delete,
    },
}

# (methods, path pattern, handler); the first match wins.
ROUTES: list[tuple[frozenset[str], re.Pattern[str], Handler]] = [
    (frozenset({m}), re.compile(p), h)
    for m, p, h in [
        ("GET", rf"classes/{_CLASS}", _class_route("GET")),
        ("POST", rf"classes/{_CLASS}", _class_route("POST")),
        ("GET", rf"classes/{_CLASS}/{_ID}", _class_route("GET")),
        ("PUT", rf"classes/{_CLASS}/{_ID}", _class_route("PUT")),
        ("DELETE", rf"classes/{_CLASS}/{_ID}", _class_route("DELETE")),
        ("GET", r"users/me", users.me),
        ("GET", r"users", _find_users),
        ("POST", r"users", users.sign_up),
        ("GET", rf"users/{_ID}", users.get_user),
        ("PUT", rf"users/{_ID}", users.update_user),
        ("DELETE", rf"users/{_ID}", users.delete_user),
        ("GET", r"login", users.log_in),
        ("POST", r"login", users.log_in),
        ("POST", r"logout", users.log_out),
        ("POST", r"requestPasswordReset", users.request_password_reset),
        ("POST", r"verificationEmailRequest", users.request_verification),
        ("GET", r"verifyPassword", users.verify_password),
        ("POST", r"verifyPassword", users.verify_password),
        ("GET", r"sessions/me", users.session_me),
        ("GET", r"sessions", users.list_sessions),
        ("GET", rf"sessions/{_ID}", users.get_session),
        ("DELETE", rf"sessions/{_ID}", users.delete_session),
        ("GET", r"roles", roles.find),
        ("POST", r"roles", roles.create),
        ("GET", rf"roles/{_ID}", roles.get),
        ("PUT", rf"roles/{_ID}", roles.update),
        ("DELETE", rf"roles/{_ID}", roles.delete),
        ("GET", r"installations", push.find_installations),
        ("POST", r"installations", push.create_installation),
        ("GET", rf"installations/{_ID}", push.get_installation),
        ("PUT", rf"installations/{_ID}", push.update_installation),
        ("DELETE", rf"installations/{_ID}", push.delete_installation),
        ("POST", r"push", push.send),
        ("GET", r"config", misc.get_config),
        ("PUT", r"config", misc.put_config),
        ("GET", r"serverInfo", misc.server_info),
        ("GET", r"schemas", misc.list_schemas),
        ("GET", rf"schemas/{_CLASS}", misc.get_schema),
        ("POST", rf"schemas/{_CLASS}", misc.create_schema),
        ("PUT", rf"schemas/{_CLASS}", misc.update_schema),
        ("DELETE", rf"schemas/{_CLASS}", misc.delete_schema),
    ]
] + [
    (frozenset({"GET", "POST", "PUT", "DELETE"}), re.compile(r"(functions|jobs)(/.*)?"), _no_code),
]


def route(req: ParseRequest) -> tuple[Any, int, dict[str, str]]:
    """Run one request (or batch sub-request): (body, status, headers)."""
    path = req.path.strip("/")
    if path == "batch" and req.method == "POST":
        return batch(req), 200, {}
    for methods, pattern, handler in ROUTES:
        if req.method not in methods:
            continue
        match = pattern.fullmatch(path)
        if match is None:
            continue
        result = handler(req, **match.groupdict())
        if isinstance(result, tuple):
            body, headers = result
            if headers.pop("X-Basalt-Existing", None) or path == "push":
                return body, 200, headers  # an upsert that found the device; a push is answered 200
            return body, 201, headers
        return result, 200, {}
    raise ParseError(INVALID_JSON, f"cannot route {req.method} /{path[:80]}", 404)


MAX_BATCH = 100
_MOUNT = re.compile(r"\A(/parse)?(/1)?/")


def _sub_path(path: Any) -> str:
    if not isinstance(path, str):
        raise ParseError(INVALID_JSON, "batch request path must be a string")
    return _MOUNT.sub("", path if path.startswith("/") else "/" + path, count=1)


_OBJECT_PATH = re.compile(r"classes/[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_-]+)?")


def _one_service_call(sub: ParseRequest) -> bool:
    """A write of a custom class's object is one documents-service call, atomic by itself: no
    savepoint around it (two statements per item). The built-in classes' routes (users, roles,
    installations) may write several rows and keep theirs."""
    return sub.method != "GET" and _OBJECT_PATH.fullmatch(sub.path.strip("/")) is not None


def batch(req: ParseRequest) -> list[dict[str, Any]]:
    """Parse's /batch: every sub-request runs as the batch's caller; with `transaction: true`
    the first error rolls all of them back and is the answer."""
    data = req.data
    requests = data.get("requests")
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise ParseError(INVALID_JSON, "requests must be an array")
    if len(requests) > MAX_BATCH:
        raise ParseError(INVALID_JSON, f"A batch holds at most {MAX_BATCH} requests.")
    subs = []
    for item in requests:
        method = item.get("method")
        if not isinstance(method, str) or method.upper() not in ("GET", "POST", "PUT", "DELETE"):
            raise ParseError(INVALID_JSON, "batch request method is invalid")
        path = _sub_path(item.get("path"))
        if path.strip("/") == "batch":
            raise ParseError(INVALID_JSON, "A batch cannot contain a batch.")
        subs.append(req.sub(method.upper(), path, item.get("body", {})))
    if data.get("transaction") is True:
        with changefeed.write_transaction():
            return [{"success": route(sub)[0]} for sub in subs]
    # A write of a custom class is one documents-service call (`run_loose` says why it needs no
    # savepoint); anything else (reads, and the built-in classes' routes, which may write several
    # rows) gets a savepoint of its own.
    project = req.caller.project
    return run_loose(
        subs,
        _succeed,
        _failed,
        guarded=lambda sub: not _one_service_call(sub),
        restart=lambda: objects.schema_rolled_back(project),
    )


def _succeed(sub: ParseRequest) -> dict[str, Any]:
    return {"success": route(sub)[0]}


def _failed(error: Exception) -> dict[str, Any] | None:
    """A sub-request's own error entry, as Parse Server answers it; None for what fails the batch."""
    if isinstance(error, ParseError):
        return {"error": error.body()}
    if isinstance(error, BasaltError):
        return {"error": from_basalt(error).body()}
    return None


def _respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _class_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "classes" else None


@csrf_exempt  # key-authenticated, never cookie-authenticated
def entry(request: HttpRequest, path: str = "") -> HttpResponse:
    if request.method == "OPTIONS":
        return HttpResponse(status=200)
    if path.strip("/") == "health":
        return _respond({"status": "ok"})
    current = codec.REQUEST.set(request)
    try:
        if path.strip("/").startswith("files/"):
            body, status, headers = misc.files_entry(request, path.strip("/")[6:])
            return _respond(body, status, headers)
        req = decode(request, path)
        request.caller = req.caller  # counted as the project's traffic (basalt.usage)
        body, status, headers = route(req)
        return _respond(body, status, headers)
    except Unauthorized:
        return _respond({"error": "unauthorized"}, 403)
    except ParseError as exc:
        return _respond(exc.body(), exc.status)
    except BasaltError as exc:
        error = from_basalt(exc, _class_of(path))
        return _respond(error.body(), error.status, exc.headers)
    except Exception as exc:
        # What /api/v1 maps (a value the database refused, the database unreachable) is mapped alike here.
        mapped = to_basalt_error(exc)
        if mapped is None:  # a bug: logged with its stack, answered in Parse's shape
            logger.exception("parse face failure on %s %s", request.method, path[:200])
            return _respond({"code": INTERNAL, "error": "Internal server error."}, 500)
        error = from_basalt(mapped, _class_of(path))
        return _respond(error.body(), error.status, mapped.headers)
    finally:
        codec.REQUEST.reset(current)
