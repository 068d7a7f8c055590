"""Schema editor: collections, fields, indexes, permissions, default ACL and protected fields."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from basalt.core.errors import BasaltError, ValidationFailed
from basalt.documents import catalog
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console import schema_forms as sf
from console.preconditions import ConflictNotice, StaleForm, fingerprint, save_if_unchanged, show_current
from console.views.common import ProjectAccess, page, project_context, project_view


def _errors(exc: BasaltError) -> dict[str, list[str]]:
    """Service errors keyed by form input ("fields.title" → "field_name", others kept)."""
    if isinstance(exc, ValidationFailed) and isinstance(exc.details, dict):
        out: dict[str, list[str]] = {}
        for key, value in exc.details.items():
            target = "field_name" if key.startswith("fields") or key == "name" else key.split(".")[0]
            # `errors.items` in a template would call dict.items(); the item-type input reports as item_type.
            target = "item_type" if target == "items" else target
            out.setdefault(target, []).extend(value if isinstance(value, list) else [str(value)])
        return out
    return {"general": [exc.message]}


def _collections(request: HttpRequest, access: ProjectAccess) -> list[dict[str, Any]]:
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    rows = catalog.list_collections(project)
    for row in rows:
        row["locked"] = sf.is_locked(row)
        row["preset"] = sf.preset_of(row)
    return rows


@project_view
def schema_list(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        project = access_project(request.user, access.project.ref, Perm.CHANGE_SCHEMA)
        preset = sf.PRESETS.get(request.POST.get("preset") or "locked", sf.PRESETS["locked"])
        body = {
            "name": (request.POST.get("name") or "").strip(),
            "permissions": preset["permissions"],
            "default_acl": preset["default_acl"],
        }
        try:
            created = catalog.create_collection(project, body)
        except BasaltError as exc:
            errors = _errors(exc)
            if "field_name" in errors:
                errors["name"] = errors.pop("field_name")
        else:
            messages.success(request, f"Collection “{created['name']}” created. Add its fields below.")
            return redirect("console:collection", access.project.ref, created["name"])
    context = project_context(
        access,
        "schema",
        collections=_collections(request, access),
        presets=sf.PRESETS,
        errors=errors,
        posted=request.POST if errors else {},
    )
    return page(request, "console/schema/list.html", context, status=400 if errors else 200)


def _collection_page(
    request: HttpRequest,
    access: ProjectAccess,
    name: str,
    errors=None,
    posted=None,
    status: int = 200,
    conflict: ConflictNotice | None = None,
) -> HttpResponse:
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    collection = catalog.describe(catalog.get_collection(project, name))
    others = [c["name"] for c in catalog.list_collections(project)]
    # A refused rules form shows what was typed, not the stored rules.
    rules = sf.rules_form_values(collection, (posted or {}) if (posted or {}).get("form") == "rules" else None)
    if conflict is not None:
        rules["version"] = fingerprint(sf.rules_state(collection))  # sending the typed rules again overwrites
    context = project_context(
        access,
        "schema",
        collection=collection,
        fields=[{"name": k, **v, "summary": sf.option_summary(v)} for k, v in collection["fields"].items()],
        locked=sf.is_locked(collection),
        rules=rules,
        conflict=conflict,
        presets=sf.PRESETS,
        default_acls=sf.DEFAULT_ACL_LABELS,
        field_types=sf.FIELD_TYPES,
        item_types=sf.ITEM_TYPES,
        type_options=sf.TYPE_OPTIONS,
        targets=others,
        errors=errors or {},
        posted=posted or {},
    )
    return page(request, "console/schema/collection.html", context, status=status)


@project_view
def collection_detail(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    return _collection_page(request, access, name)


def _update(
    request: HttpRequest, access: ProjectAccess, name: str, build, success: str, *, guarded: bool = False
) -> HttpResponse:
    """Check the role, build the PATCH body from the form, apply it; errors re-render next to inputs.

    `guarded` forms send back the whole rules state: they save only if it is unchanged since shown.
    """
    project = access_project(request.user, access.project.ref, Perm.CHANGE_SCHEMA)
    try:
        body = build(project)
        if guarded:
            save_if_unchanged(
                lambda: _rules_locked(request, access, name),
                request.POST.get("version"),
                lambda: catalog.update_collection(project, name, body),
            )
        else:
            catalog.update_collection(project, name, body)
    except StaleForm as stale:
        notice = ConflictNotice(
            "These access rules were changed (in another tab or by another member) after you opened this page.",
            show_current(stale.current),
            reverse("console:collection", args=[access.project.ref, name]) + "#rules",
        )
        return _collection_page(request, access, name, {}, request.POST, status=409, conflict=notice)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        return _collection_page(request, access, name, _errors(exc), request.POST, status=400)
    messages.success(request, success)
    return redirect("console:collection", access.project.ref, name)


def _rules_locked(request: HttpRequest, access: ProjectAccess, name: str) -> dict[str, Any]:
    project = access_project(request.user, access.project.ref, Perm.CHANGE_SCHEMA, lock=True)
    return sf.rules_state(catalog.describe(catalog.get_collection(project, name)))


@project_view
def field_add(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    def build(project) -> dict[str, Any]:
        field_name, definition = sf.field_definition(request.POST)
        return {"fields": {field_name: definition}}

    return _update(request, access, name, build, "Field saved.")


@project_view
def field_remove(request: HttpRequest, access: ProjectAccess, name: str, field: str) -> HttpResponse:
    return _update(request, access, name, lambda project: {"fields": {field: None}}, f"Field “{field}” removed.")


@project_view
def index_add(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    def build(project) -> dict[str, Any]:
        current = catalog.describe(catalog.get_collection(project, name))["indexes"]
        return {"indexes": sf.index_body(request.POST, current)}

    return _update(request, access, name, build, "Index declared; it builds in the background.")


@project_view
def index_remove(request: HttpRequest, access: ProjectAccess, name: str, position: str) -> HttpResponse:
    def build(project) -> dict[str, Any]:
        current = catalog.describe(catalog.get_collection(project, name))["indexes"]
        declared = [{"fields": i["fields"], "unique": i["unique"]} for i in current]
        # The form names the index it showed: a position alone could name another index by now.
        shown = sf.index_named(request.POST)
        target = shown if shown is not None else (declared[int(position)] if int(position) < len(declared) else None)
        if target not in declared:
            raise ValidationFailed(details={"indexes": ["That index was already removed (in another tab?)."]})
        return {"indexes": [index for index in declared if index != target]}

    return _update(request, access, name, build, "Index removed.")


@project_view
def rules(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    return _update(
        request, access, name, lambda project: sf.rules_body(request.POST), "Access rules saved.", guarded=True
    )


@project_view
def collection_delete(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    project = access_project(request.user, access.project.ref, Perm.CHANGE_SCHEMA)
    if request.POST.get("confirm_name") != name:
        return _collection_page(
            request, access, name, {"confirm_name": ["Type the collection's name to confirm."]}, status=400
        )
    try:
        catalog.delete_collection(project, name)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        return _collection_page(request, access, name, {"confirm_name": [exc.message]}, status=400)
    messages.success(request, f"Collection “{name}” and its documents deleted.")
    return redirect("console:schema", access.project.ref)
