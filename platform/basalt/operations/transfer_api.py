"""Management-API faces of project exports, imports and clones (API.md §12)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.documents.store import format_time
from basalt.operations import transfers
from basalt.operations.models import Transfer

BASE = "/api/v1/manage/projects"


def _time(value) -> str | None:
    return format_time(value) if value is not None else None


def transfer_out(transfer: Transfer, ref: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": transfer.id,
        "kind": transfer.kind,
        "status": transfer.status,
        "progress": transfers.progress_of(transfer),
        "error": transfer.error,
        "created_at": _time(transfer.created_at),
        "started_at": _time(transfer.started_at),
        "finished_at": _time(transfer.finished_at),
    }
    if transfer.kind == Transfer.EXPORT:
        done = transfer.status == Transfer.SUCCEEDED and transfer.archive_key
        out["size"] = transfer.archive_size if done else None
        out["download_url"] = f"{BASE}/{ref}/exports/{transfer.id}/archive" if done else None
        out["job"] = transfer.job_id or None
        out["url"] = f"{BASE}/{ref}/exports/{transfer.id}"
    elif transfer.kind == Transfer.IMPORT:
        out["format"] = transfer.format
        out["url"] = f"{BASE}/{ref}/imports/{transfer.id}"
    else:
        out["source"] = transfer.source_ref
        out["project"] = {"ref": transfer.project.ref, "name": transfer.project.name}
        out["url"] = f"{BASE}/{transfer.source_ref}/clone/{transfer.id}"
    return out


class ExportListView(APIView):
    def get(self, request, ref):
        rows = transfers.list_transfers(request.user, ref, Transfer.EXPORT)
        return Response({"results": [transfer_out(t, ref) for t in rows]})

    def post(self, request, ref):
        return Response(transfer_out(transfers.start_export_for(request.user, ref), ref), status=202)


class ExportView(APIView):
    def get(self, request, ref, export_id):
        return Response(transfer_out(transfers.get_transfer(request.user, ref, export_id, (Transfer.EXPORT,)), ref))


class ExportArchiveView(APIView):
    def get(self, request, ref, export_id):
        return transfers.archive_response(transfers.get_transfer(request.user, ref, export_id, (Transfer.EXPORT,)), ref)


class ImportListView(APIView):
    """POST: the archive is the raw body (`?from=parse` for a Parse Server export as .tar.gz or .zip)."""

    def get(self, request, ref):
        rows = transfers.list_transfers(request.user, ref, Transfer.IMPORT)
        return Response({"results": [transfer_out(t, ref) for t in rows]})

    def post(self, request, ref):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) or None
        except ValueError:
            length = None
        fmt = request.query_params.get("from", "basalt")
        transfer = transfers.start_import(request.user, ref, request._request, length, fmt)
        return Response(transfer_out(transfer, ref), status=202)


class ImportView(APIView):
    def get(self, request, ref, import_id):
        return Response(transfer_out(transfers.get_transfer(request.user, ref, import_id, (Transfer.IMPORT,)), ref))


class CloneView(APIView):
    def post(self, request, ref):
        transfer = transfers.start_clone(request.user, ref, request.data)
        return Response(transfer_out(transfer, ref), status=202)


class CloneStatusView(APIView):
    def get(self, request, ref, clone_id):
        return Response(transfer_out(transfers.get_transfer(request.user, ref, clone_id, (Transfer.CLONE,)), ref))
