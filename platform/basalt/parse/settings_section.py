"""The project settings section `parse`: client class creation and Parse.Config parameters."""

from __future__ import annotations

from typing import Any

import orjson

from basalt.core.errors import ValidationFailed
from basalt.core.json import NUL_MESSAGE, has_nul

MAX_CONFIG_BYTES = 64 * 1024


def validate_parse_section(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - {"allow_client_class_creation", "config"}:
        raise ValidationFailed(details={"parse": ["Takes allow_client_class_creation (bool) and config (object)."]})
    out: dict[str, Any] = {}
    if "allow_client_class_creation" in value:
        if not isinstance(value["allow_client_class_creation"], bool):
            raise ValidationFailed(details={"parse.allow_client_class_creation": ["Must be true or false."]})
        out["allow_client_class_creation"] = value["allow_client_class_creation"]
    if "config" in value:
        config = value["config"]
        if not isinstance(config, dict) or len(orjson.dumps(config)) > MAX_CONFIG_BYTES:
            raise ValidationFailed(
                details={"parse.config": [f"Must be an object of at most {MAX_CONFIG_BYTES} bytes."]}
            )
        if has_nul(config):
            raise ValidationFailed(details={"parse.config": [NUL_MESSAGE]})
        out["config"] = config
    return out
