"""The Parse face answered past the middleware chain (documents.api.hot_routes, registered by the
face): the same answers as through the whole chain (HOT_ROUTES off), with the chain's traces."""

from __future__ import annotations

import pytest
from django.test import override_settings

from basalt.operations.metrics import REQUESTS
from tests.conftest import chain_forbidden, console_client_for
from tests.parse.conftest import ParseClient

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://app.example"


def _answer(response) -> tuple[int, dict[str, str], object]:
    headers = {name.lower(): value for name, value in response.items() if name.lower() != "x-request-id"}
    body = response.json() if response.content and "json" in response.get("Content-Type", "") else response.content
    if isinstance(body, dict):  # what differs between two runs of the same request
        body = {key: value for key, value in body.items() if key not in ("objectId", "createdAt", "updatedAt")}
    headers.pop("location", None)
    return response.status_code, headers, body


def test_the_parse_face_answers_the_same_past_the_chain(project):
    owner = console_client_for(project.owner)
    settings_url = f"/api/v1/manage/projects/{project.project.ref}/settings"
    assert owner.patch(settings_url, {"cors_origins": [ORIGIN]}, format="json").status_code == 200

    def session(client: ParseClient) -> list:
        answers = []
        made = client.post("classes/GameScore", {"score": 1, "tags": ["a"]})
        oid = made.json()["objectId"]
        answers.append(_answer(made))
        answers.append(_answer(client.get(f"classes/GameScore/{oid}")))
        answers.append(_answer(client.put(f"classes/GameScore/{oid}", {"score": {"__op": "Increment", "amount": 2}})))
        answers.append(_answer(client.get("classes/GameScore", {"where": {"score": 3}, "count": 1, "limit": 0})))
        answers.append(_answer(client.get("classes/GameScore/nosuchobject")))
        answers.append(
            _answer(client.http.post("/parse/classes/GameScore", b"{oops", "application/json", **client.headers))
        )
        answers.append(_answer(client.post("functions/hello", {})))
        answers.append(_answer(client.post("batch", {"requests": [{"method": "GET", "path": "/parse/classes/X/y"}]})))
        answers.append(_answer(client.get("health")))
        answers.append(
            _answer(client.http.get(f"/parse/classes/GameScore/{oid}", HTTP_ORIGIN=ORIGIN, **client.headers))
        )
        answers.append(
            _answer(
                client.http.options(
                    "/parse/classes/GameScore",
                    HTTP_ORIGIN=ORIGIN,
                    HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                )
            )
        )
        answers.append(_answer(client.delete(f"classes/GameScore/{oid}")))
        stranger = ParseClient(project.project.ref, rest_key="pk_nosuchkey")
        answers.append(_answer(stranger.get("classes/GameScore")))
        return answers

    with chain_forbidden():
        hot = session(ParseClient(project.project.ref, master_key=project.secret))
    with override_settings(BASALT_HOT_ROUTES=False):
        chained = session(ParseClient(project.project.ref, master_key=project.secret))
    assert hot == chained
    assert [status for status, _, _ in hot] == [201, 200, 200, 200, 404, 400, 400, 200, 200, 200, 200, 200, 403]
    assert hot[9][1]["access-control-allow-origin"] == ORIGIN
    assert hot[6][2]["code"] == 141


def test_the_parse_face_past_the_chain_counts_and_ids_its_requests(project):
    client = ParseClient(project.project.ref, master_key=project.secret)
    counted = REQUESTS.labels("parse", "GET", "200")
    before = counted._value.get()
    with chain_forbidden():
        answer = client.http.get("/parse/health", HTTP_X_REQUEST_ID="parse-request-1", **client.headers)
    assert answer.status_code == 200 and answer["X-Request-Id"] == "parse-request-1"
    assert answer["X-Content-Type-Options"] == "nosniff" and answer["X-Frame-Options"] == "DENY"
    assert counted._value.get() == before + 1
