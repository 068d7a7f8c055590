"""The `logs` section of a project's settings: how many days its request logs are kept."""

from __future__ import annotations

from typing import Any

from basalt.core.errors import ValidationFailed

MAX_RETENTION_DAYS = 90


def validate_logs_section(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) - {"retention_days"}:
        raise ValidationFailed(details={"logs": ["Must be an object with `retention_days`."]})
    days = value.get("retention_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValidationFailed(
            details={"logs.retention_days": [f"A whole number of days from 1 to {MAX_RETENTION_DAYS}."]}
        )
    return {"retention_days": days}
