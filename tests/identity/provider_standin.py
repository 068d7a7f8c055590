"""A loopback sign-in provider for tests: JWKS (Google/Apple/OIDC), Firebase x509 certificates,
an OIDC discovery document, and OAuth authorize/token/user endpoints (GitHub and OIDC).

It mints real RS256/ES256 tokens with local keys, so the product's libraries (PyJWT's JWKS
client, firebase-admin, Authlib) run their real code paths against it over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Standin:
    CLIENT_SECRET = "s3cret-of-the-client"

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.keys = {"rsa1": self.rsa, "ec1": self.ec}  # published
        self.hits: dict[str, int] = {}
        self.delay = 0.0
        self.codes: dict[str, dict] = {}
        self.firebase_project = "basalt-fb-test"
        self.next_user: dict = {}
        self.access_tokens: dict = {}
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- what the product's settings point at ---------------------------------------------
    def endpoints(self) -> dict:
        return {
            "google": {"jwks_uri": self.base + "/google/jwks", "issuers": ["https://accounts.google.com"]},
            "apple": {"jwks_uri": self.base + "/apple/jwks", "issuers": ["https://appleid.apple.com"]},
            "firebase": {"cert_url": self.base + "/firebase/certs"},
            "github": {
                "authorize_url": self.base + "/github/authorize",
                "token_url": self.base + "/github/token",
                "api_url": self.base + "/github/api",
            },
        }

    @property
    def oidc_issuer(self) -> str:
        return self.base + "/oidc"

    # --- minting ---------------------------------------------------------------------------
    def mint(self, claims: dict, *, kid: str = "rsa1", alg: str | None = None, key=None, headers=None) -> str:
        key = key if key is not None else self.keys.get(kid, self.rsa)
        alg = alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **(headers or {})})

    @staticmethod
    def claims(iss: str, aud: str, sub: str = "sub-1", **extra) -> dict:
        now = int(time.time())
        return {"iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + 600, **extra}

    def rotate(self, kid: str):
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def jwks(self) -> dict:
        out = []
        for kid, key in self.keys.items():
            algo = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
            jwk = json.loads(algo.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig", "alg": "ES256" if algo is ECAlgorithm else "RS256"})
            out.append(jwk)
        return {"keys": out}

    # --- the code flow ---------------------------------------------------------------------
    def issue_code(self, *, client_id: str, redirect_uri: str, code_challenge: str, user: dict, nonce=None) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "challenge": code_challenge,
            "user": user,
            "nonce": nonce,
        }
        return code

    @staticmethod
    def s256(verifier: str) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out first (on purpose)
                    pass

            def _count(self, path: str) -> None:
                standin.hits[path] = standin.hits.get(path, 0) + 1
                if standin.delay:
                    time.sleep(standin.delay)

            def do_GET(self):
                parts = urlsplit(self.path)
                path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
                self._count(path)
                if path in ("/google/jwks", "/apple/jwks", "/oidc/jwks"):
                    return self._json(200, standin.jwks())
                if path == "/firebase/certs":
                    certs = {
                        kid: _self_signed(k) for kid, k in standin.keys.items() if isinstance(k, rsa.RSAPrivateKey)
                    }
                    return self._json(200, certs)
                if path == "/oidc/.well-known/openid-configuration":
                    return self._json(
                        200,
                        {
                            "issuer": standin.oidc_issuer,
                            "jwks_uri": standin.base + "/oidc/jwks",
                            "authorization_endpoint": standin.base + "/oidc/authorize",
                            "token_endpoint": standin.base + "/oidc/token",
                        },
                    )
                if path in ("/oidc/authorize", "/github/authorize"):
                    # The user "consents" at once: 302 back with a code bound to the PKCE challenge.
                    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                        return self._json(400, {"error": "pkce_required"})
                    code = standin.issue_code(
                        client_id=query.get("client_id", ""),
                        redirect_uri=query.get("redirect_uri", ""),
                        code_challenge=query["code_challenge"],
                        user=standin.next_user,
                        nonce=query.get("nonce"),
                    )
                    sep = "&" if "?" in query["redirect_uri"] else "?"
                    location = query["redirect_uri"] + sep + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if path in ("/github/api/user", "/github/api/user/emails"):
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    user = standin.access_tokens.get(token)
                    if user is None:
                        return self._json(401, {"message": "Bad credentials"})
                    if path.endswith("/emails"):
                        return self._json(200, user.get("emails", []))
                    return self._json(200, {"id": user["id"], "login": user["login"], "name": user.get("name")})
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                path = urlsplit(self.path).path
                self._count(path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                github = path == "/github/token"
                if path not in ("/github/token", "/oidc/token"):
                    return self._json(404, {"error": "not_found"})
                grant = standin.codes.pop(form.get("code", ""), None)

                def refuse(error: str):
                    # GitHub answers a bad code with HTTP 200 and an error body; OIDC with 400.
                    return self._json(200 if github else 400, {"error": error, "error_description": error})

                if grant is None:
                    return refuse("bad_verification_code" if github else "invalid_grant")
                if form.get("client_id") != grant["client_id"] or form.get("client_secret") != standin.CLIENT_SECRET:
                    return refuse("incorrect_client_credentials" if github else "invalid_client")
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return refuse("redirect_uri_mismatch")
                if standin.s256(form.get("code_verifier", "")) != grant["challenge"]:
                    return refuse("invalid_grant")
                access = secrets.token_urlsafe(16)
                standin.access_tokens[access] = grant["user"]
                body = {"access_token": access, "token_type": "bearer", "scope": "read:user"}
                if not github:
                    user = grant["user"]
                    claims = standin.claims(standin.oidc_issuer, grant["client_id"], sub=user["sub"])
                    claims.update({k: user[k] for k in ("email", "email_verified", "name") if k in user})
                    if grant["nonce"]:
                        claims["nonce"] = grant["nonce"]
                    body["id_token"] = standin.mint(claims)
                return self._json(200, body)

        return Handler
