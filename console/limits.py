"""Input lengths the console's boxes accept, taken from what the server itself accepts.

Every text input and textarea carries one of these as `maxlength` (a test walks every page), so a
box never takes text that the server will refuse only after it is sent.
"""

from __future__ import annotations

from django.conf import settings

from basalt.documents.models import Collection
from basalt.documents.schema import MAX_INDEX_FIELDS
from basalt.identity.models import EndUser, Role
from basalt.identity.passwords import MAX_PASSWORD_LENGTH
from basalt.projects.models import Invitation
from basalt.projects.services import KEY_NAME_MAX, PROJECT_NAME_MAX


def _length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def input_limits() -> dict[str, int]:
    name = _length(Collection, "name")
    return {
        "name": name,  # collections and fields
        "role": _length(Role, "name"),
        "project_name": PROJECT_NAME_MAX,
        "key_name": KEY_NAME_MAX,
        "email": _length(Invitation, "email"),
        "username": _length(EndUser, "username"),
        "password": MAX_PASSWORD_LENGTH,
        # `user` boxes take an email, a username or an id.
        "user": _length(EndUser, "email"),
        "index_fields": MAX_INDEX_FIELDS * (name + 3),
        # Whatever a JSON body may hold (values, ACLs, where, rule lists) fits in the largest body.
        "json": settings.BASALT_MAX_JSON_BODY,
        # API keys are ~50 characters; a pasted key with stray text around it is still cut short.
        "api_key": 128,
        "search": 100,
        "description": 500,
    }
