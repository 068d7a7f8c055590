"""The /batch face."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.core.caller import Caller
from basalt.documents.api.base import endpoint, json_body, respond
from basalt.documents.batch import run_batch


def _post(request: HttpRequest, caller: Caller) -> HttpResponse:
    return respond(run_batch(caller, json_body(request)))


batch = endpoint(post=_post)
