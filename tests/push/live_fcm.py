"""A served Basalt (`manage.py serve`) whose project sends FCM to the loopback stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.contract import live
from tests.push import keys
from tests.push.standins import fcm_stand_in


@dataclass
class ServedPush:
    server: Any
    project: Any
    fcm: Any


@contextmanager
def served_with_fcm(data_dir: Path, monkeypatch, name: str) -> Iterator[ServedPush]:
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    stand_in = fcm_stand_in()
    server = live.start(
        data_dir, {"PUSH_FCM_API_BASE": stand_in.base, "PUSH_ALLOW_PRIVATE_ENDPOINTS": "true", "NO_GCE_CHECK": "True"}
    )
    try:
        project = live.make_project(server.url, name)
        answer = httpx.patch(
            f"{server.url}/api/v1/manage/projects/{project.ref}/settings",
            json={"push": {"fcm": {"service_account": keys.service_account(stand_in.token_uri)}}},
            headers={"Authorization": f"Bearer {project.owner_token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["push"]["fcm"]["configured"] is True and "private_key" not in answer.text
        yield ServedPush(server, project, stand_in)
    finally:
        live.stop(server)
        stand_in.close()
