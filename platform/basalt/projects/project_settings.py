"""A project's own settings (CORS origins, limits, auth options), validated and defaulted here."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from basalt.core.errors import ValidationFailed
from basalt.projects.models import Project

DEFAULTS: dict[str, Any] = {
    "cors_origins": [],
    "limits": {
        "max_json_body": 1024 * 1024,
        "max_page_size": 1000,
        "max_in_values": 1000,
        "max_where_depth": 10,
        "max_regex_length": 256,
        "max_batch_requests": 100,
        "max_expand_depth": 3,
        "max_file_size": 50 * 1024 * 1024,
    },
}
# Upper bounds an owner cannot raise limits past: they protect the shared server.
LIMIT_CEILINGS = {
    "max_json_body": 16 * 1024 * 1024,
    "max_page_size": 1000,
    "max_in_values": 1000,
    "max_where_depth": 10,
    "max_regex_length": 1024,
    "max_batch_requests": 100,
    "max_expand_depth": 3,
    "max_file_size": 5 * 1024 * 1024 * 1024,
}
_ORIGIN = re.compile(r"\Ahttps?://[A-Za-z0-9.-]+(:\d{1,5})?\Z")

# Other areas (identity, push, email) register their own sections with a validator.
SECTION_VALIDATORS: dict[str, Any] = {}
# A section that holds credentials also registers a redactor: it returns what the management API
# may show (e.g. {"configured": true} instead of a private key). Services that need the real
# values read effective_settings(); only API answers go through displayed_settings().
SECTION_REDACTORS: dict[str, Callable[[Any], Any]] = {}


def effective_settings(project: Project) -> dict[str, Any]:
    merged = copy.deepcopy(DEFAULTS)
    stored = project.settings or {}
    for section, value in stored.items():
        if isinstance(value, dict) and isinstance(merged.get(section), dict):
            merged[section].update(value)
        else:
            merged[section] = value
    return merged


def displayed_settings(project: Project) -> dict[str, Any]:
    """The settings as the management API shows them: credentials redacted by their section."""
    merged = effective_settings(project)
    for section, redact in SECTION_REDACTORS.items():
        if section in merged:
            merged[section] = redact(copy.deepcopy(merged[section]))
    return merged


def _validate_cors(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(origin, str) for origin in value):
        raise ValidationFailed(details={"cors_origins": ["Must be a list of origins like https://app.example.com."]})
    bad = [origin for origin in value if origin != "*" and not _ORIGIN.match(origin)]
    if bad:
        raise ValidationFailed(details={"cors_origins": [f"Not an origin: {bad[0][:100]}"]})
    return value


def limit_ceiling(name: str) -> int:
    """The highest value a project may set; a JSON body cannot exceed what the server accepts at all."""
    if name == "max_json_body":
        return min(LIMIT_CEILINGS[name], settings.BASALT_MAX_JSON_BODY)
    return LIMIT_CEILINGS[name]


def _validate_limits(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValidationFailed(details={"limits": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for name, number in value.items():
        if name not in LIMIT_CEILINGS:
            errors[f"limits.{name[:100]}"] = ["Unknown limit."]
            continue
        ceiling = limit_ceiling(name)
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= ceiling:
            errors[f"limits.{name}"] = [f"Must be an integer from 1 to {ceiling}."]
    if errors:
        raise ValidationFailed(details=errors)
    return value


SECTION_VALIDATORS.update({"cors_origins": _validate_cors, "limits": _validate_limits})


@transaction.atomic
def update_settings(project: Project, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise ValidationFailed(details={"settings": ["Must be an object."]})
    unknown = [name for name in changes if name not in SECTION_VALIDATORS]
    if unknown:
        raise ValidationFailed(details={name[:100]: ["Unknown setting."] for name in unknown[:20]})
    project = Project.objects.select_for_update().get(pk=project.pk)
    stored = dict(project.settings or {})
    for section, value in changes.items():
        validator = SECTION_VALIDATORS[section]
        # A section holding write-only values (secrets) merges over what is stored itself.
        merges = getattr(validator, "merges_stored", False)
        cleaned = validator(value, stored.get(section)) if merges else validator(value)
        if isinstance(cleaned, dict) and isinstance(stored.get(section), dict):
            stored[section] = {**stored[section], **cleaned}
        else:
            stored[section] = cleaned
    project.settings = stored
    project.save(update_fields=["settings"])
    return displayed_settings(project)
