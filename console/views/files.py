"""Files page: list with previews, upload with progress, delete, copy a signed URL, edit the ACL."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError, NotFound
from basalt.files import services, thumbs
from basalt.files.access import access_file
from basalt.files.api import _upload
from basalt.files.serving import serve
from basalt.files.sniff import IMAGE_TYPES
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console.caller import console_caller
from console.views.common import ProjectAccess, page, project_context, project_view

PREVIEW = 96


def _caller(request: HttpRequest, access: ProjectAccess, perm: Perm):
    project = access_project(request.user, access.project.ref, perm)
    return console_caller(project, request.user.pk)


@project_view
def files(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    caller = _caller(request, access, Perm.VIEW)
    listing = services.list_files(
        caller, {"limit": "50", **({"cursor": request.GET["cursor"]} if request.GET.get("cursor") else {})}
    )
    for item in listing["results"]:
        item["image"] = item["content_type"] in IMAGE_TYPES
        item["acl_json"] = json.dumps(item["acl"])
    return page(request, "console/files/files.html", project_context(access, "files", listing=listing))


@project_view
def upload(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    if request.method != "POST":
        return redirect("console:files", access.project.ref)
    caller = _caller(request, access, Perm.CHANGE_DATA)
    try:
        answer = _upload(request, caller)
    except BasaltError as exc:
        return JsonResponse(exc.payload(), status=exc.status)
    return HttpResponse(answer.content, status=answer.status_code, content_type="application/json")


@project_view
def preview(request: HttpRequest, access: ProjectAccess, file_id: str) -> HttpResponse:
    caller = _caller(request, access, Perm.VIEW)
    row = access_file(caller, file_id)
    if row.content_type not in IMAGE_TYPES:
        raise NotFound()
    made = thumbs.thumbnail(row, PREVIEW, PREVIEW, "cover")
    return serve(
        request,
        key=made.storage_key,
        size=made.size,
        sha256=f"{row.sha256[:32]}-{made.spec}",
        name=row.name,
        content_type=made.content_type,
        cache="private, max-age=300",
    )


@project_view
def signed_url(request: HttpRequest, access: ProjectAccess, file_id: str) -> HttpResponse:
    if request.method != "POST":
        return redirect("console:files", access.project.ref)
    caller = _caller(request, access, Perm.VIEW)
    minted = services.mint_url(caller, file_id, {"expires_in": 3600})
    return JsonResponse({**minted, "url": request.build_absolute_uri(minted["url"])})


@project_view
def delete(request: HttpRequest, access: ProjectAccess, file_id: str) -> HttpResponse:
    if request.method == "POST":
        services.delete_file(_caller(request, access, Perm.CHANGE_DATA), file_id)
    return redirect("console:files", access.project.ref)


@project_view
def acl(request: HttpRequest, access: ProjectAccess, file_id: str) -> HttpResponse:
    if request.method == "POST":
        caller = _caller(request, access, Perm.CHANGE_DATA)
        try:
            value = json.loads(request.POST.get("acl") or "null")
            services.update_file(caller, file_id, {"acl": value})
        except (ValueError, BasaltError) as exc:
            message = exc.message if isinstance(exc, BasaltError) else "The ACL is not valid JSON."
            from django.contrib import messages

            messages.error(request, f"ACL not saved: {message}")
    return redirect("console:files", access.project.ref)
