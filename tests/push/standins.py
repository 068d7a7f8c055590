"""Loopback stand-ins for the push providers, driven by the real client libraries.

- `FcmStandIn`: Google's OAuth token endpoint (checks the RS256 JWT-bearer assertion against the
  service account's key) and FCM HTTP v1 `messages:send` (checks the bearer token; answers like
  FCM, with scripted errors per token: 429 + Retry-After, 500, a slow answer, UNREGISTERED).
- `ApnsStandIn`: HTTP/2 over TLS (h2, a throwaway CA) that checks the ES256 provider token
  (issuer = team id, `kid` = key id) and answers 200, 410 Unregistered, 400 BadDeviceToken,
  403 InvalidProviderToken.
- `WebPushStandIn`: a push service endpoint that checks the VAPID JWT (ES256, `aud`) and
  decrypts the aes128gcm body with the subscriber's private key, recording the plaintext.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import socket
import ssl
import tempfile
import threading
import time
from collections import defaultdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def _serve(handler_class, owner) -> tuple[_Server, int]:
    port = free_port()
    server = _Server(("127.0.0.1", port), handler_class)
    server.owner = owner
    threading.Thread(target=server.serve_forever, daemon=True, name=f"standin-{port}").start()
    return server, port


# --- FCM + token endpoint -------------------------------------------------------------------------
def fcm_error(status: int, code: str, fcm_code: str | None = None) -> bytes:
    error = {"code": status, "message": f"stand-in {code}", "status": code}
    if fcm_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
    return json.dumps({"error": error}).encode()


class _AsyncHttp:
    """A small HTTP/1.1 keep-alive server on its own event loop thread.

    The FCM stand-in answers 100,000 sends in a benchmark: the threaded `http.server` cost about
    170 µs of CPU a request (and a thread per connection); this costs a fraction of that, so the
    stand-in is not what a benchmark measures. `handle(method, path, headers, body)` is a
    coroutine answering `(status, headers, body)`; header names arrive lower-cased."""

    def __init__(self, handle):
        self.handle = handle
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.connections = 0
        self.tasks: set[asyncio.Task] = set()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True, name=f"standin-{self.port}")
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("the stand-in did not start")

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port, backlog=512)
        )
        started.set()
        self.loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self.tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "://" in target:
                    headers["_proxy"] = "1"  # absolute form: the client took us for its proxy
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, extra, payload = await self.handle(method, urlsplit(target).path, headers, body)
                out = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(payload)}"]
                out += [f"{name}: {value}" for name, value in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.tasks.discard(task)
            writer.close()


class FcmStandIn:
    """Scripts per token: `plan[token]` is a list of answers used in turn ("ok", "unregistered",
    "429", "500", "slow", "invalid"); tokens containing `unregistered` always answer UNREGISTERED.

    A request in proxy form (absolute URL) is answered the same way and counted in `proxied`, so
    the stand-in can also play a forward proxy in front of itself."""

    ACCESS_TOKEN = "ya29.stand-in"

    def __init__(self, public_key, project_id: str = "demo-project"):
        self.public_key = public_key
        self.project_id = project_id
        self.lock = threading.Lock()
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.requests = 0
        self.token_requests = 0
        self.proxied = 0
        self.plan: dict[str, list[str]] = {}
        self.refuse_grant = False
        self.slow_seconds = 3.0
        self.retry_after = "1"
        self.http = _AsyncHttp(self._handle)
        self.port = self.http.port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base}/token"

    def close(self) -> None:
        self.http.close()

    def delivered_tokens(self) -> list[str]:
        with self.lock:
            return [token for token, messages in self.received.items() for _ in messages]

    def _next(self, token: str) -> str:
        with self.lock:
            steps = self.plan.get(token)
            if steps:
                return steps.pop(0)
        return "unregistered" if "unregistered" in token else "ok"

    async def _handle(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, dict, bytes]:
        json_type = {"Content-Type": "application/json"}
        if headers.get("_proxy"):
            self.proxied += 1
        if method != "POST":
            return 405, json_type, fcm_error(405, "METHOD_NOT_ALLOWED")
        if path == "/token":
            return self._token(raw)
        if path == f"/v1/projects/{self.project_id}/messages:send":
            return await self._send(headers, raw)
        return 404, json_type, fcm_error(404, "NOT_FOUND")

    def _token(self, raw: bytes) -> tuple[int, dict, bytes]:
        json_type = {"Content-Type": "application/json"}
        with self.lock:
            self.token_requests += 1
        form = parse_qs(raw.decode())
        assertion = (form.get("assertion") or [""])[0]
        try:
            # google-auth always names Google's token endpoint as the audience, wherever it posts.
            claims = jwt.decode(
                assertion, self.public_key, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token"
            )
        except jwt.PyJWTError as exc:
            return 400, json_type, json.dumps({"error": "invalid_grant", "error_description": str(exc)}).encode()
        if self.refuse_grant or "auth/cloud-platform" not in claims.get("scope", ""):
            return 400, json_type, json.dumps({"error": "invalid_grant", "error_description": "refused"}).encode()
        body = {"access_token": FcmStandIn.ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return 200, json_type, json.dumps(body).encode()

    async def _send(self, headers: dict, raw: bytes) -> tuple[int, dict, bytes]:
        json_type = {"Content-Type": "application/json"}
        with self.lock:
            self.requests += 1
        if headers.get("authorization") != f"Bearer {FcmStandIn.ACCESS_TOKEN}":
            return 401, json_type, fcm_error(401, "UNAUTHENTICATED")
        message = json.loads(raw)["message"]
        token = message.get("token", "")
        step = self._next(token)
        if step == "unregistered":
            return 404, json_type, fcm_error(404, "NOT_FOUND", "UNREGISTERED")
        if step == "invalid":
            return 400, json_type, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
        if step == "429":
            return (
                429,
                {**json_type, "Retry-After": self.retry_after},
                fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
            )
        if step == "500":
            # Retry-After: 0 keeps the library's own retries of a 500 quick.
            return 500, {**json_type, "Retry-After": "0"}, fcm_error(500, "INTERNAL", "INTERNAL")
        if step == "slow":
            await asyncio.sleep(self.slow_seconds)
            return 503, {**json_type, "Retry-After": "0"}, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE")
        with self.lock:
            self.received[token].append(message)
            number = self.requests
        name = f"projects/{self.project_id}/messages/{number}"
        return 200, json_type, json.dumps({"name": name}).encode()


def fcm_stand_in(project_id: str = "demo-project") -> FcmStandIn:
    from tests.push import keys

    private = serialization.load_pem_private_key(keys.rsa_pem().encode(), password=None)
    return FcmStandIn(private.public_key(), project_id)


# --- test CA for TLS stand-ins --------------------------------------------------------------------
def make_tls_files() -> tuple[str, str, str]:
    """(ca.pem, server cert.pem, server key.pem) for 127.0.0.1, in a temporary folder."""
    folder = tempfile.mkdtemp(prefix="push-ca-")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "push test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = []
    for name, data in (
        ("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
        ("cert.pem", cert.public_bytes(serialization.Encoding.PEM)),
        (
            "key.pem",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        ),
    ):
        path = f"{folder}/{name}"
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return paths[0], paths[1], paths[2]


# --- APNs -----------------------------------------------------------------------------------------
class ApnsStandIn:
    """HTTP/2 + TLS; `answers[token]` = (status, reason) for scripted failures."""

    def __init__(self, public_key, key_id: str, team_id: str, topic: str):
        self.public_key, self.key_id, self.team_id, self.topic = public_key, key_id, team_id, topic
        self.ca, cert, key = make_tls_files()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["h2"])
        self.lock = threading.Lock()
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.answers: dict[str, tuple[int, str]] = {}
        self.connections = 0
        self.max_concurrent_streams = 0
        self.refused_tokens = 0
        self.verified: set[str] = set()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True, name="apns-standin").start()
        started.wait(10)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port, ssl=self.context)
        )
        started.set()
        self.loop.run_forever()

    def close(self) -> None:
        """Stop serving and end every open connection: clients keep theirs open between batches."""

        async def stop() -> None:
            self.server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def _check_token(self, header: str) -> bool:
        # APNs verifies a provider token once and accepts it while fresh: so does the stand-in.
        if header in self.verified:
            return True
        if not header.startswith("bearer "):
            return False
        token = header[len("bearer ") :]
        try:
            head = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"], options={"require": ["iat", "iss"]})
        except jwt.PyJWTError:
            return False
        ok = head.get("kid") == self.key_id and claims.get("iss") == self.team_id
        if ok:
            self.verified.add(header)
        return ok

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.config
        import h2.connection
        import h2.events

        with self.lock:
            self.connections += 1
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, dict] = {}
        open_streams = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = {"headers": dict(event.headers), "body": b""}
                        open_streams += 1
                        with self.lock:
                            self.max_concurrent_streams = max(self.max_concurrent_streams, open_streams)
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id]["body"] += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        stream = streams.pop(event.stream_id)
                        open_streams -= 1
                        self._respond(conn, event.stream_id, stream)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        writer.close()
                        return
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def _respond(self, conn, stream_id: int, stream: dict) -> None:
        headers = {
            k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in stream["headers"].items()
        }
        apns_id = headers.get("apns-id", "")
        token = headers.get(":path", "").rsplit("/", 1)[-1]
        status, reason = 200, ""
        if not self._check_token(headers.get("authorization", "")):
            status, reason = 403, "InvalidProviderToken"
        elif headers.get("apns-topic") != self.topic:
            status, reason = 400, "DeviceTokenNotForTopic"
        elif token in self.answers:
            status, reason = self.answers[token]
        if status == 200:
            with self.lock:
                self.received[token].append({"payload": json.loads(stream["body"]), "headers": headers})
        else:
            with self.lock:
                self.refused_tokens += 1
        body = json.dumps({"reason": reason}).encode() if reason else b""
        response = [(":status", str(status)), ("apns-id", apns_id)]
        conn.send_headers(stream_id, response, end_stream=not body)
        if body:
            conn.send_data(stream_id, body, end_stream=True)


# --- Web Push -------------------------------------------------------------------------------------
class WebPushStandIn:
    """A push service. `subscribe(name)` makes a browser-like subscription (its own P-256 key and
    auth secret); received plaintexts are kept per name. `gone` names answer 410."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys: dict[str, tuple] = {}
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.headers: dict[str, list[dict]] = defaultdict(list)
        self.gone: set[str] = set()
        self.vapid_public: str | None = None
        self.refused = 0
        self.server, self.port = _serve(self._handler(), self)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subscribe(self, name: str) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        auth = b64url(__import__("os").urandom(16))
        self.keys[name] = (key, auth)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps({"endpoint": f"{self.origin}/push/{name}", "keys": {"p256dh": b64url(public), "auth": auth}})

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                import http_ece

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = urlsplit(self.path).path.rsplit("/", 1)[-1]
                if not stand_in._vapid_ok(self.headers.get("Authorization", "")):
                    with stand_in.lock:
                        stand_in.refused += 1
                    return self._answer(401)
                if name in stand_in.gone or name not in stand_in.keys:
                    return self._answer(410)
                if self.headers.get("Content-Encoding") != "aes128gcm":
                    return self._answer(400)
                key, auth = stand_in.keys[name]
                plain = http_ece.decrypt(body, private_key=key, auth_secret=b64url_decode(auth), version="aes128gcm")
                with stand_in.lock:
                    stand_in.received[name].append(plain)
                    stand_in.headers[name].append({k.lower(): v for k, v in self.headers.items()})
                self._answer(201)

        return Handler

    def _vapid_ok(self, header: str) -> bool:
        if not header.lower().startswith("vapid "):
            return False
        parts = dict(part.strip().split("=", 1) for part in header[6:].split(","))
        token, public = parts.get("t", ""), parts.get("k", "")
        if self.vapid_public is not None and public != self.vapid_public:
            return False
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public))
            claims = jwt.decode(token, point, algorithms=["ES256"], audience=self.origin)
        except (jwt.PyJWTError, ValueError):
            return False
        return "sub" in claims and claims.get("exp", 0) > time.time()


__all__ = ["ApnsStandIn", "FcmStandIn", "WebPushStandIn", "fcm_stand_in", "free_port", "rsa"]
