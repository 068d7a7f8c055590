"""The Caller the console hands to data services after the member's role was checked."""

from __future__ import annotations

from basalt.core.caller import Caller
from basalt.projects.models import Project


def console_caller(project: Project, account_id: int) -> Caller:
    """Console members act like the secret key (Parse's dashboard uses the master key the same way).

    Only call this after `access_project(account, ref, perm)` approved the member for the operation.
    """
    return Caller(project=project, key_kind="secret", key_id=f"console:{account_id}")
