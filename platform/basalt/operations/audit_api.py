"""GET /api/v1/manage/projects/{ref}/audit (API.md §12): cursor-paged, newest first, with filters."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.accounts.models import Account
from basalt.core.errors import ValidationFailed
from basalt.documents.store import format_time
from basalt.operations.models import AuditEntry
from basalt.projects.roles import Perm
from basalt.projects.services import access_project

PAGE = 50


def list_entries(account: Account, ref: str, params: Any) -> dict[str, Any]:
    """Admins read the log (it holds members' addresses); filters: action, actor (email), via, cursor."""
    project = access_project(account, ref, Perm.MANAGE_MEMBERS)
    rows = AuditEntry.objects.filter(project=project)
    action = params.get("action")
    if action:
        rows = rows.filter(action__startswith=str(action)[:80])
    actor = params.get("actor")
    if actor:
        rows = rows.filter(actor_email__iexact=str(actor)[:254])
    via = params.get("via")
    if via:
        if via not in ("api", "console"):
            raise ValidationFailed(details={"via": ["api or console."]})
        rows = rows.filter(via=via)
    cursor = params.get("cursor")
    if cursor:
        if not (str(cursor).isascii() and str(cursor).isdigit()) or len(str(cursor)) > 18:
            raise ValidationFailed(details={"cursor": ["The next_cursor of a previous page."]})
        rows = rows.filter(id__lt=int(cursor))
    page = list(rows.order_by("-id")[: PAGE + 1])
    return {
        "results": page[:PAGE],
        "next_cursor": str(page[PAGE - 1].id) if len(page) > PAGE else None,
    }


def entry_out(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": format_time(entry.at),
        "actor": {"id": entry.actor_id, "email": entry.actor_email},
        "via": entry.via,
        "action": entry.action,
        "target": entry.target,
        "status": entry.status,
        "summary": entry.summary,
        "address": entry.address,
    }


class AuditView(APIView):
    def get(self, request, ref):
        page = list_entries(request.user, ref, request.query_params)
        return Response({"results": [entry_out(e) for e in page["results"]], "next_cursor": page["next_cursor"]})
