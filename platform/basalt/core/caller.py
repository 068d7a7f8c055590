"""The Caller: who is asking, resolved once per request and handed explicitly to services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from basalt.projects.models import ApiKey, Project


@dataclass(frozen=True)
class Caller:
    project: Project
    key_kind: str  # "publishable" or "secret"
    key_id: str
    user_id: str | None = None
    session_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_secret(self) -> bool:
        return self.key_kind == "secret"

    @property
    def principals(self) -> frozenset[str]:
        """Every name this caller can be granted access under (API.md §2 principals)."""
        names = {"*"}
        if self.user_id:
            names.add("authenticated")
            names.add(self.user_id)
        names.update(f"role:{role}" for role in self.roles)
        return frozenset(names)

    @classmethod
    def for_key(cls, key: ApiKey) -> Caller:
        return cls(project=key.project, key_kind=key.kind, key_id=key.id)
