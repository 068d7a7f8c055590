"""The project settings section `realtime`: retention, per-connection limits and channel rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.projects.project_settings import effective_settings

DEFAULTS: dict[str, Any] = {
    "retention_hours": 24,
    "max_subscriptions": 100,
    "max_message_bytes": 64 * 1024,
    "broadcasts_per_second": 50,
    "max_presence_bytes": 1024,
    # Channel pattern → who may join and broadcast (collection-permission principals). No match: refused.
    "channels": {},
}
CEILINGS = {
    "retention_hours": 24 * 30,
    "max_subscriptions": 1000,
    "max_message_bytes": 1024 * 1024,
    "broadcasts_per_second": 1000,
    "max_presence_bytes": 16 * 1024,
}
MAX_PATTERNS = 100
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_:.\-]{1,128}\Z")
PATTERN = re.compile(r"^[A-Za-z0-9_:.\-*]{1,128}\Z")
PRINCIPAL = re.compile(r"^(\*|authenticated|role:[A-Za-z0-9_-]{1,64}|user:[A-Za-z0-9_-]{1,64})\Z")


@dataclass(frozen=True)
class RealtimeSettings:
    retention_hours: int
    max_subscriptions: int
    max_message_bytes: int
    broadcasts_per_second: int
    max_presence_bytes: int
    channels: dict[str, dict[str, list[str]]]

    def channel_rule(self, channel: str, op: str) -> list[str]:
        """The principals allowed `op` (join/broadcast) on the first pattern matching the channel."""
        for pattern, rule in self.channels.items():
            if fnmatchcase(channel, pattern):
                return list(rule.get(op) or [])
        return []


def realtime_settings(project) -> RealtimeSettings:
    stored = effective_settings(project).get("realtime")
    merged = {**DEFAULTS, **(stored if isinstance(stored, dict) else {})}
    return RealtimeSettings(**{name: merged[name] for name in DEFAULTS})


def validate_realtime_section(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(details={"realtime": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for name, item in value.items():
        if name == "channels":
            _check_channels(item, errors)
        elif name in CEILINGS:
            if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= CEILINGS[name]:
                errors[f"realtime.{name}"] = [f"Must be an integer from 1 to {CEILINGS[name]}."]
        else:
            errors[f"realtime.{str(name)[:80]}"] = ["Unknown setting."]
    if errors:
        raise ValidationFailed(details=errors)
    return value


def _check_channels(value: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(value, dict) or len(value) > MAX_PATTERNS:
        errors["realtime.channels"] = [f"Must map at most {MAX_PATTERNS} channel patterns to rules."]
        return
    for pattern, rule in value.items():
        where = f"realtime.channels.{str(pattern)[:80]}"
        if not PATTERN.match(str(pattern)):
            errors[where] = ["A pattern is letters, digits, _ : . - and * (e.g. room:*)."]
        elif not isinstance(rule, dict) or set(rule) - {"join", "broadcast"}:
            errors[where] = ['Must be like {"join": ["authenticated"], "broadcast": ["role:staff"]}.']
        elif not all(
            isinstance(names, list) and all(isinstance(p, str) and PRINCIPAL.match(p) for p in names)
            for names in rule.values()
        ):
            errors[where] = ["Principals are *, authenticated, role:<name> or user:<id>."]
