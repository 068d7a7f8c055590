"""The least a document server can do per request: a WSGI callable, one prepared statement.

No framework, no authentication, no ACL, no change log: it reads or inserts one JSON row by
primary key on a per-thread connection. It exists only to measure the floor that any Python
server over the same database pays on this machine (`bench/floor.py`), never to serve users.
"""

from __future__ import annotations

import json
import os
import secrets
import threading

DATABASE = os.environ["FLOOR_DB"]  # postgres://… or sqlite:/path/to/file
SQLITE = DATABASE.startswith("sqlite:")
MARK = "?" if SQLITE else "%s"
GET = f"SELECT data FROM floor_doc WHERE id = {MARK}"
INSERT = f"INSERT INTO floor_doc (id, data) VALUES ({MARK}, {MARK})"
_local = threading.local()


def connect():
    if SQLITE:
        import sqlite3

        connection = sqlite3.connect(DATABASE.removeprefix("sqlite:"), isolation_level=None, check_same_thread=False)
        # Basalt's embedded pragmas (settings.py), so the floor stores data the way `serve` does.
        connection.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; "
            "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536;"
        )
        return connection
    import psycopg

    return psycopg.connect(DATABASE, autocommit=True, prepare_threshold=0)


def create_table() -> None:
    kind = "TEXT" if SQLITE else "JSONB"
    connection = connect()
    connection.execute(f"CREATE TABLE IF NOT EXISTS floor_doc (id TEXT PRIMARY KEY, data {kind} NOT NULL)")
    connection.close()


def _cursor():
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = connect()
    return connection


def _answer(start_response, status: str, body: bytes):
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if environ["REQUEST_METHOD"] == "GET" and path.startswith("/o/"):
        row = _cursor().execute(GET, (path[3:],)).fetchone()
        if row is None:
            return _answer(start_response, "404 Not Found", b'{"error":"not found"}')
        data = row[0] if isinstance(row[0], str) else json.dumps(row[0])
        return _answer(start_response, "200 OK", data.encode())
    if environ["REQUEST_METHOD"] == "POST" and path == "/o":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        document = json.loads(environ["wsgi.input"].read(length))  # a server parses what it stores
        identifier = secrets.token_hex(8)
        _cursor().execute(INSERT, (identifier, json.dumps(document)))
        return _answer(start_response, "201 Created", json.dumps({"id": identifier}).encode())
    if path == "/healthz":
        return _answer(start_response, "200 OK", b'{"status":"ok"}')
    return _answer(start_response, "404 Not Found", b'{"error":"no route"}')


if __name__ == "__main__":
    create_table()
