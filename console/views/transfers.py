"""Backup & copy page: export the project to an archive (download), import one into an empty project,
clone the project; recent transfers with their status and progress (basalt.operations.transfers)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.operations import importing, transfers
from basalt.operations.models import Transfer
from basalt.operations.transfer_api import transfer_out
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view


class ImportForm(forms.Form):
    archive = forms.FileField(
        label="Archive", help_text="A Basalt export (.tar.gz), or a Parse export (.zip/.tar.gz of <Class>.json files)"
    )
    source = forms.ChoiceField(
        label="Made by",
        choices=[("basalt", "Basalt (export of a project)"), ("parse", "Parse Server (Dashboard export)")],
    )


class CloneForm(forms.Form):
    name = forms.CharField(label="New project's name", max_length=100)


def _page(request: HttpRequest, access: ProjectAccess, status: int = 200, **extra) -> HttpResponse:
    ref = access.project.ref
    rows = []
    if access.can.get("manage_settings"):
        rows = [transfer_out(t, ref) for t in transfers.recent_transfers(request.user, ref)]
    context = project_context(
        access,
        "transfers",
        transfers=rows,
        busy=any(r["status"] in (Transfer.QUEUED, Transfer.RUNNING) for r in rows),
        empty=not any(importing.project_contents(access.project).values()),
        import_form=extra.pop("import_form", None) or ImportForm(),
        clone_form=extra.pop("clone_form", None) or CloneForm(),
        **extra,
    )
    return page(request, "console/transfers/transfers.html", context, status=status)


@project_view
def transfers_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _page(request, access)


@project_view
def export_start(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    transfer = transfers.start_export_for(request.user, access.project.ref)
    messages.success(request, f"Export {transfer.id} started.")
    return redirect("console:transfers", access.project.ref)


@project_view
def export_download(request: HttpRequest, access: ProjectAccess, export_id: str) -> HttpResponse:
    transfer = transfers.get_transfer(request.user, access.project.ref, export_id, (Transfer.EXPORT,))
    return transfers.archive_response(transfer, access.project.ref)


def _started(request: HttpRequest, access: ProjectAccess, form: forms.Form, field: str, start) -> HttpResponse | None:
    """Run `start()` for a valid form; refusals other than 403 land on the form's `field`."""
    if not form.is_valid():
        return None
    try:
        message = start()
    except BasaltError as exc:
        if exc.status == 403:
            raise
        for text in error_messages(exc):
            form.add_error(field, text)
        return None
    messages.success(request, message)
    return redirect("console:transfers", access.project.ref)


@project_view
def import_start(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)

    def start() -> str:
        upload = form.cleaned_data["archive"]
        transfer = transfers.start_import(
            request.user, access.project.ref, upload, upload.size, form.cleaned_data["source"]
        )
        return f"Import {transfer.id} started."

    return _started(request, access, form, "archive", start) or _page(request, access, status=400, import_form=form)


@project_view
def clone_start(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = CloneForm(request.POST)

    def start() -> str:
        transfer = transfers.start_clone(request.user, access.project.ref, {"name": form.cleaned_data["name"]})
        return f"Copying into “{transfer.project.name}” ({transfer.project.ref})."

    return _started(request, access, form, "name", start) or _page(request, access, status=400, clone_form=form)
