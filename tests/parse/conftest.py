"""Parse-face fixtures: clients that speak with X-Parse-* headers, as Parse's REST guide shows."""

from __future__ import annotations

import json

import pytest
from django.test import Client


class ParseClient:
    """A REST client for /parse/ with the application id and a key, optionally a session token."""

    def __init__(self, app_id: str, *, rest_key: str | None = None, master_key: str | None = None):
        self.http = Client()
        self.headers = {"HTTP_X_PARSE_APPLICATION_ID": app_id}
        if rest_key:
            self.headers["HTTP_X_PARSE_REST_API_KEY"] = rest_key
        if master_key:
            self.headers["HTTP_X_PARSE_MASTER_KEY"] = master_key
        self.token: str | None = None

    def as_user(self, token: str | None) -> ParseClient:
        other = ParseClient.__new__(ParseClient)
        other.http, other.headers, other.token = self.http, dict(self.headers), token
        return other

    def _headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.token:
            headers["HTTP_X_PARSE_SESSION_TOKEN"] = self.token
        return headers

    def call(self, method: str, path: str, body=None, params=None):
        url = "/parse/" + path.lstrip("/")
        headers = self._headers()
        if method == "GET":
            query = {k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in (params or {}).items()}
            return self.http.get(url, query, **headers)
        data = json.dumps(body if body is not None else {})
        return getattr(self.http, method.lower())(url, data, content_type="application/json", **headers)

    def get(self, path, params=None):
        return self.call("GET", path, params=params)

    def post(self, path, body=None):
        return self.call("POST", path, body)

    def put(self, path, body=None):
        return self.call("PUT", path, body)

    def delete(self, path):
        return self.call("DELETE", path)


@pytest.fixture
def rest(project):
    return ParseClient(project.project.ref, rest_key=project.publishable)


@pytest.fixture
def master(project):
    return ParseClient(project.project.ref, master_key=project.secret)


@pytest.fixture
def signed_up(rest):
    """A signed-up user's client (`.user_id`)."""

    def make(username: str = "alice", password: str = "correct horse battery"):
        response = rest.post("users", {"username": username, "password": password})
        assert response.status_code == 201, response.content
        client = rest.as_user(response.json()["sessionToken"])
        client.user_id = response.json()["objectId"]
        return client

    return make
