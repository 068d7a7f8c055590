"""Parse LiveQuery over WebSocket at the /parse mount, on the realtime engine (API.md §13).

The Parse protocol (`connect`, `subscribe`, `update`, `unsubscribe`; `connected`, `subscribed`,
`create`, `enter`, `update`, `leave`, `delete`, `error`) is translated to the native one: each Parse
subscription is a native subscription on a Connection whose outgoing messages are rewritten here,
so matching, ACL and protected-field checks and revocation are the engine's, not this face's."""

from __future__ import annotations

from typing import Any

import orjson

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, InvalidJson
from basalt.core.ids import random_id
from basalt.core.json import loads_json
from basalt.documents.cache import Schema, project_schemas
from basalt.parse import codec, names, queries, sessions
from basalt.parse.errors import ParseError, Unauthorized, from_basalt
from basalt.parse.request import authenticate
from basalt.realtime import protocol
from basalt.realtime.connection import Connection
from basalt.realtime.consumers import HubConsumer
from basalt.realtime.dbthread import in_thread
from basalt.realtime.hub import current_hub

MAX_MESSAGE = 64 * 1024


class ParseConnection(Connection):
    """A realtime connection whose messages leave in Parse LiveQuery's shape."""

    wants_previous = True

    def __init__(self, caller: Caller, key_raw: str, client_id: str):
        super().__init__(caller, key_raw, "parse-livequery")
        self.client_id = client_id
        self.classes: dict[str, tuple[str, Schema]] = {}  # native sub id → (Parse class, schema)

    def push_text(self, text: str, bulk: bool = False) -> None:
        translated = self.translate(orjson.loads(text))
        if translated is not None:
            super().push_text(orjson.dumps(translated).decode(), bulk)

    def parse_message(self, message: dict[str, Any]) -> None:
        super().push_text(orjson.dumps(message).decode())

    def translate(self, message: dict[str, Any]) -> dict[str, Any] | None:
        op = message.get("op")
        sub_id = message.get("id")
        request_id = int(sub_id) if isinstance(sub_id, str) and sub_id.isascii() and sub_id.isdigit() else sub_id
        if op == "event":
            class_name, schema = self.classes.get(sub_id, (None, None))
            if class_name is None:
                return None
            kind = message.get("type")
            previous = message.get("previous")
            # As Parse Server sends them: a delete carries the object as it last was, and update,
            # enter and leave carry `original`; the engine gives `previous` only when this caller
            # could read that earlier state, so nothing unreadable leaves through either.
            document = previous if kind == "delete" and previous else message.get("document") or {}
            out = {
                "op": kind,
                "clientId": self.client_id,
                "requestId": request_id,
                "object": self._obj(document, schema, class_name),
            }
            if previous and kind != "delete":
                out["original"] = self._obj(previous, schema, class_name)
            return out
        if op == "subscribed":
            return {"op": "subscribed", "clientId": self.client_id, "requestId": request_id}
        if op == "unsubscribed":
            return {"op": "unsubscribed", "clientId": self.client_id, "requestId": request_id}
        if op == "error":
            error = message.get("error") or {}
            out = {
                "op": "error",
                "clientId": self.client_id,
                "code": _code(error),
                "error": error.get("message", ""),
                "reconnect": error.get("code") in ("slow_consumer", "resync_required"),
            }
            if request_id is not None:
                out["requestId"] = request_id
            return out
        return None  # pong, presence, broadcast: not part of Parse's protocol

    @staticmethod
    def _obj(document: dict[str, Any], schema: Schema, class_name: str) -> dict[str, Any]:
        obj = codec.doc_to_parse(schema, document, None, relations=False)
        obj["className"] = class_name
        return obj


def _code(error: dict[str, Any]) -> int:
    code = error.get("code")
    return {
        "not_found": 101,
        "invalid_query": 102,
        "permission_denied": 119,
        "invalid_token": 209,
        "token_expired": 209,
        "unauthenticated": 209,
        "invalid_api_key": 4,
    }.get(code, 1)


def _prepare(caller: Caller, query: Any) -> tuple[str, str, Any, list[str] | None, Schema]:
    """A Parse LiveQuery `query` as a native subscription: collection, where, fields."""
    if not isinstance(query, dict):
        raise ParseError(102, "query is required.")
    class_name = query.get("className")
    native = names.encode_class(class_name)
    schema = project_schemas(caller.project).get(native)
    if schema is None:
        raise ParseError(119, f"This user is not allowed to access non-existent class: {class_name}")
    where = query.get("where") or {}
    translated = queries.Translator(caller, schema).where(where) if where else {}
    keys = query.get("keys") or query.get("fields")
    fields = None
    if isinstance(keys, list):
        fields = [
            names.resolve(k, schema.fields) for k in keys if isinstance(k, str) and k not in names.SYSTEM_TO_NATIVE
        ]
    return class_name, native, translated, fields, schema


class ParseLiveQueryConsumer(HubConsumer):
    conn: ParseConnection | None

    async def connect(self) -> None:
        await self.accept()

    async def _send_error(self, code: int, text: str, request_id: Any = None, reconnect: bool = False) -> None:
        message: dict[str, Any] = {"op": "error", "code": code, "error": text, "reconnect": reconnect}
        if request_id is not None:
            message["requestId"] = request_id
        await self.send(text_data=orjson.dumps(message).decode())

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data or b""
        if len(raw) > MAX_MESSAGE:
            await self._send_error(1, "Message too large.")
            return
        try:
            message = loads_json(raw, "The message")
        except InvalidJson as exc:
            await self._send_error(1, exc.message)
            return
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            await self._send_error(1, "Message is not valid.")
            return
        op = message["op"]
        request_id = message.get("requestId")
        try:
            if op == "connect":
                await self._connect(message)
            elif self.conn is None:
                await self._send_error(
                    4, "Can not find this client, make sure you connect to server before subscribing", request_id
                )
            elif op in ("subscribe", "update"):
                await self._subscribe(message, replace=op == "update")
            elif op == "unsubscribe":
                await protocol.handle(self.conn, orjson.dumps({"op": "unsubscribe", "id": _sub_id(request_id)}))
            else:
                await self._send_error(1, f"Unknown op {op[:40]}.", request_id)
        except Unauthorized:
            await self._send_error(4, "Key in request is not valid", request_id)
        except ParseError as exc:
            await self._send_error(exc.code, exc.message, request_id)
        except BasaltError as exc:
            error = from_basalt(exc)
            await self._send_error(error.code, error.message, request_id)

    async def _connect(self, message: dict[str, Any]) -> None:
        if self.conn is not None:
            raise ParseError(1, "Already connected.")
        creds = {
            "app": message.get("applicationId"),
            "master": message.get("masterKey"),
            "client": message.get("javascriptKey")
            or message.get("clientKey")
            or message.get("restAPIKey")
            or message.get("windowsKey"),
        }
        creds = {k: (v if isinstance(v, str) and v else None) for k, v in creds.items()}
        key_caller = await in_thread(authenticate)(creds)
        caller = key_caller
        token = message.get("sessionToken")
        if isinstance(token, str) and token:
            caller = await in_thread(sessions.resolve)(key_caller, token)
        conn = ParseConnection(key_caller, creds["master"] or creds["client"] or "", random_id(16))
        if caller is not key_caller:
            conn.caller, conn.token = caller, token
        self.attach(conn)
        conn.parse_message({"op": "connected", "clientId": conn.client_id})

    async def _subscribe(self, message: dict[str, Any], replace: bool) -> None:
        conn = self.conn
        sub_id = _sub_id(message.get("requestId"))
        token = message.get("sessionToken")
        if isinstance(token, str) and token and token != conn.token:
            # A subscription's own session token re-authenticates the connection (Parse's re-auth).
            conn.caller = await in_thread(sessions.resolve)(conn.key_caller, token)
            conn.token = token
        class_name, native, where, fields, schema = await in_thread(_prepare)(conn.caller, message.get("query"))
        if replace and sub_id in conn.subs:
            current_hub().detach(conn.subs[sub_id])
        conn.classes[sub_id] = (class_name, schema)
        body: dict[str, Any] = {"op": "subscribe", "id": sub_id, "collection": native, "where": where}
        if fields:
            body["fields"] = fields
        await protocol.handle(conn, orjson.dumps(body))


def _sub_id(request_id: Any) -> str:
    if isinstance(request_id, bool) or not isinstance(request_id, int) or not 0 <= request_id < 10**12:
        raise ParseError(1, "requestId must be a non-negative integer.")
    return str(request_id)
