"""Run inside a subprocess with the worker's environment: make a project with FCM credentials,
`devices` installations and one push (queued to the broker). Prints `{project_id, push_id}` as JSON."""

from __future__ import annotations

import json
import os
import sys

sys.path[:0] = [
    os.path.join(os.path.dirname(__file__), "..", "..", "platform"),
    os.path.join(os.path.dirname(__file__), "..", ".."),
]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

import django  # noqa: E402

django.setup()

from basalt.accounts.models import Account  # noqa: E402
from basalt.core.caller import Caller  # noqa: E402
from basalt.projects import project_settings, services  # noqa: E402
from basalt.push import bulk  # noqa: E402
from basalt.push import services as push_services  # noqa: E402
from tests.push import keys  # noqa: E402


def main(devices: int, token_uri: str) -> None:
    owner = Account.objects.create_user("crash@example.com", "correct horse battery")
    project = services.create_project(owner, "Crash")
    project_settings.update_settings(project, {"push": {"fcm": {"service_account": keys.service_account(token_uri)}}})
    project.refresh_from_db()
    bulk.insert_installations(
        project, ({"provider": "fcm", "token": f"crash-{n:06d}-" + "t" * 24} for n in range(devices))
    )
    key = services.create_key(owner, project, "secret")
    caller = Caller(project=project, key_kind="secret", key_id=key.key.id)
    answer, status = push_services.send_push(caller, {"audience": {}, "notification": {"title": "crash test"}})
    assert status == 202, answer
    print(json.dumps({"project_id": project.id, "push_id": answer["id"]}))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
