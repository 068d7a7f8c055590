"""OpenAPI 3.1 fragment for realtime's HTTP face (API.md §6: Server-Sent Events), for the platform document.

The WebSocket mount has no OpenAPI form; its messages are the ones a POST here carries. Uses the
`Error` component and the `apiKey`/`bearer` schemes of the documents area's builder.
"""

from __future__ import annotations

from typing import Any

from basalt.realtime.protocol import HANDLERS

ERROR = {"$ref": "#/components/schemas/Error"}
# The key alone, or the key with an end user's access token (never a token in the URL).
SECURITY = [{"apiKey": []}, {"apiKey": [], "bearer": []}]


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "Error", "content": {"application/json": {"schema": ERROR}}} for s in statuses}


def paths() -> dict[str, Any]:
    return {
        "/api/v1/realtime/sse": {
            "get": {
                "operationId": "openRealtimeStream",
                "tags": ["realtime"],
                "description": (
                    "A stream of realtime messages; the first names the connection (`connected`). "
                    "Events with a seq carry it as the SSE `id`."
                ),
                "security": SECURITY,
                "parameters": [
                    {
                        "name": "connection_id",
                        "in": "query",
                        "required": False,
                        "description": "a lost stream to take over, with `Last-Event-ID`",
                        "schema": {"type": "string", "pattern": "^[a-z0-9]{1,64}$"},
                    },
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "Server-Sent Events, one JSON message per `data:` line",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors(401),
                },
            }
        },
        "/api/v1/realtime/sse/{connection_id}": {
            "parameters": [
                {
                    "name": "connection_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[a-z0-9]{1,64}$"},
                }
            ],
            "post": {
                "operationId": "sendRealtimeMessage",
                "tags": ["realtime"],
                "description": "A client message (as over a WebSocket); its answer arrives on the stream.",
                "security": SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RealtimeMessage"}}},
                },
                "responses": {"202": {"description": "Accepted; answers arrive on the stream"}, **_errors(401, 404)},
            },
        },
    }


def components() -> dict[str, Any]:
    return {
        "RealtimeMessage": {
            "type": "object",
            "properties": {
                "op": {"enum": sorted(HANDLERS)},
                "id": {"type": "string"},
            },
            "required": ["op"],
        }
    }
