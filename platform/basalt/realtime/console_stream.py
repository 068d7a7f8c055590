"""Live data for the console's data browser: an SSE stream authenticated by the console session.

`GET /api/v1/realtime/console/{ref}/{collection}?where=<json>` (under the realtime route, so that
the proxy sends it to a realtime process like every stream) opens one subscription for a signed-in
member who may view the project, acting as the console does everywhere (the secret key's view,
`projects.services.member_caller`). Its identity for the engine's re-checks is (account, project, session): the
member removed from the project, the account disabled or the session signed out end the stream
within the engine's revalidation bound, as a revoked key does.
"""

from __future__ import annotations

import orjson
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, InvalidApiKey, InvalidQuery, MethodNotAllowed, Unauthenticated
from basalt.core.middleware import json_error
from basalt.projects.services import member_caller
from basalt.realtime import protocol
from basalt.realtime.connection import Connection
from basalt.realtime.dbthread import in_thread
from basalt.realtime.hub import current_hub
from basalt.realtime.sse import events_response

PREFIX = "console:"
SUB_ID = "browser"


def _identity(account_id: int, ref: str, session_key: str) -> str:
    return f"{PREFIX}{account_id}:{ref}:{session_key}"


def is_console_identity(key_raw: str) -> bool:
    return key_raw.startswith(PREFIX)


def recheck(key_raw: str) -> Caller | BasaltError:
    """The engine's re-check of a console stream: session alive, account active, still a member."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    try:
        account_id, ref, session_key = key_raw[len(PREFIX) :].split(":", 2)
        store: SessionBase = import_string(settings.SESSION_ENGINE + ".SessionStore")
        if not store().exists(session_key):
            raise InvalidApiKey("The console session ended.")
        account = get_user_model().objects.filter(pk=int(account_id), is_active=True).first()
        if account is None:
            raise InvalidApiKey("The console account is gone or disabled.")
        return member_caller(account, ref)
    except BasaltError as exc:
        return exc if isinstance(exc, InvalidApiKey) else InvalidApiKey("Console access to the project ended.")
    except ValueError:
        return InvalidApiKey("Console access to the project ended.")


def _account(request: HttpRequest):
    user = request.user
    user.is_authenticated  # noqa: B018 (resolves the lazy user here, in this thread)
    return user


async def stream(request: HttpRequest, ref: str, collection: str) -> HttpResponse:
    if request.method != "GET":
        return json_error(MethodNotAllowed(headers={"Allow": "GET"}))
    # The account is read in the database thread (which hands its connection back): this view runs
    # on the shared stream thread (core.handler), which must not hold a connection for the stream.
    # No console session cookie: refused before any database work (and before the database
    # thread, whose connection hygiene must not touch a request that never needed it).
    session_key = request.session.session_key
    if not session_key:
        return json_error(Unauthenticated("Sign in to the console first."))
    account = await in_thread(_account)(request)
    if not account.is_authenticated:
        return json_error(Unauthenticated("Sign in to the console first."))
    try:
        caller = await in_thread(member_caller)(account, ref)
        where = orjson.loads(request.GET.get("where") or "{}")
    except BasaltError as exc:
        return json_error(exc)
    except ValueError:
        return json_error(InvalidQuery("`where` is not valid JSON."))
    if "wsgi.version" in request.META:
        # A WSGI process (no hub, no long streams): one `error` event, and the page stays static.
        error = BasaltError("Live data needs the realtime service.", code="unavailable")
        frame = orjson.dumps({"op": "error", "error": error.payload()["error"]})
        return HttpResponse(b"data: " + frame + b"\n\n", content_type="text/event-stream")
    conn = Connection(caller, _identity(account.pk, ref, session_key), "console")
    current_hub().add_connection(conn)
    # Errors (a bad where, a collection gone) arrive on the stream as `error` ops, as over the API.
    await protocol.handle(
        conn, orjson.dumps({"op": "subscribe", "id": SUB_ID, "collection": collection, "where": where})
    )
    return events_response(conn)
