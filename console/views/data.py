"""Data browser: cursor-paged tables with sorting and filters, document forms, ACLs, raw JSON."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from basalt.core.errors import BasaltError, NotFound, PreconditionFailed, ValidationFailed
from basalt.documents import catalog, saved_views, services
from basalt.documents.finding import count_within, find_documents
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console import data_forms as df
from console import grid
from console.caller import console_caller
from console.preconditions import ConflictNotice, show_current
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view
from console.views.users import literal_pattern

# Server time the total may take before the planner's estimate stands in (pages stay under 300 ms).
COUNT_BUDGET_MS = 150


def _caller(request: HttpRequest, access: ProjectAccess, perm: Perm):
    project = access_project(request.user, access.project.ref, perm)
    return project, console_caller(project, request.user.pk)


@project_view
def data_index(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    collections = catalog.list_collections(project)
    if collections:
        return redirect("console:data_collection", access.project.ref, collections[0]["name"])
    return page(request, "console/data/empty.html", project_context(access, "data"))


def _filter_rows(params: Any) -> list[tuple[str, str, str, int]]:
    """The builder's conditions: field, operator, value and the OR-group each belongs to."""
    fields, ops, values, groups = params.getlist("f"), params.getlist("op"), params.getlist("v"), params.getlist("g")

    def group(i: int) -> int:
        raw = groups[i] if i < len(groups) else "0"
        return min(int(raw), 20) if raw.isascii() and raw.isdigit() else 0

    return [
        (f, ops[i] if i < len(ops) else "=", values[i] if i < len(values) else "", group(i))
        for i, f in enumerate(fields)
    ]


def _where(params: Any, fields: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str, int]] | None, str]:
    """(where, the builder's rows or None when only JSON can show it, the JSON box's text).

    The JSON box wins when it was applied ("source=json") or when the builder is empty; either way
    both sides show the same filter afterwards."""
    rows = [row for row in _filter_rows(params) if row[0]]
    raw = (params.get("where") or "").strip()
    if raw and (params.get("source") == "json" or not rows):
        try:
            where = json.loads(raw)
        except ValueError:
            raise ValidationFailed(details={"where": ["The where box is not valid JSON."]}) from None
        return where, df.where_rows(where), raw
    return df.build_groups(rows, fields), rows, ""


def _row_errors(exc: BasaltError, rows: list[tuple[str, str, str, int]]) -> tuple[dict[int, str], str]:
    """Put an API error beside the condition naming its field; what names none goes above."""
    details = exc.details if isinstance(exc.details, dict) else {}
    named = {details["field"]: exc.message} if isinstance(details.get("field"), str) else {}
    for key, value in details.items():
        if isinstance(value, list) and key not in ("where", "field"):
            named[key] = "; ".join(str(v) for v in value)
    beside: dict[int, str] = {}
    for index, row in enumerate(rows):
        field = row[0].split(".")[0]
        if row[0] in named or field in named:
            beside[index] = named.get(row[0]) or named[field]
    return beside, ("" if beside else "; ".join(error_messages(exc)))


@project_view
def data_collection(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    project, caller = _caller(request, access, Perm.VIEW)
    collection = catalog.describe(catalog.get_collection(project, name))
    fields = {k: v for k, v in collection["fields"].items() if v["type"] != "relation"}
    order = request.GET.get("order") or "-created_at"
    size = grid.page_size(request.GET.get("size"))
    wanted = grid.page_number(request.GET.get("page"))
    error, beside, rows, raw_where = "", {}, [], ""
    where: dict[str, Any] = {}
    number, count, count_exact = 1, None, True
    result: dict[str, Any] = {"results": [], "next_cursor": None}
    try:
        where, rows, raw_where = _where(request.GET, fields)
        rows = rows or []
        query: dict[str, Any] = {"where": where, "order": order.split(","), "limit": size}
        pager = grid.Pager(request.session, f"{access.project.ref}/{name}", [where, order, size])
        if request.GET.get("cursor"):  # an old-style link: page from that cursor
            number, cursor = wanted, request.GET["cursor"]
        else:
            number, cursor = pager.cursor_for(
                wanted, lambda c: find_documents(caller, name, {**query, **({"cursor": c} if c else {})})["next_cursor"]
            )
        result = find_documents(caller, name, {**query, **({"cursor": cursor} if cursor else {})})
        pager.remember(number, result["next_cursor"])
        # The total may take a scan (a filter no index serves): bounded, then the planner's estimate.
        count, count_exact = count_within(caller, name, where, COUNT_BUDGET_MS)
    except BasaltError as exc:
        if exc.status in (403, 404) and exc.code != "invalid_query":
            raise
        beside, error = _row_errors(exc, rows)
    columns = [{"name": "id", "type": "id"}]
    columns += [{"name": k, "type": v["type"], "editable": True} for k, v in fields.items()]
    columns += [{"name": "created_at", "type": "date"}, {"name": "updated_at", "type": "date"}]
    ref = access.project.ref
    table = [
        {
            "id": doc["id"],
            "cells": [
                {
                    "name": c["name"],
                    "editable": c.get("editable", False),
                    **grid.cell(doc.get(c["name"]), fields.get(c["name"]), ref),
                }
                for c in columns[1:]
            ],
        }
        for doc in result["results"]
    ]
    base = [(k, v) for k, v in request.GET.lists() if k not in ("cursor", "order", "page") for v in v]
    sort_links = []
    for column in columns:
        descending = order == column["name"]
        target = f"-{column['name']}" if descending else column["name"]
        state = "ascending" if order == column["name"] else "descending" if order == f"-{column['name']}" else "none"
        sort_links.append({**column, "href": "?" + urlencode([*base, ("order", target)]), "state": state})
    pages = max(1, -(-count // size)) if count is not None else None
    hidden_state = [(k, v) for k, v in base if k != "size"]

    def page_href(n: int) -> str:
        return "?" + urlencode([*base, ("order", order), ("page", str(n))])

    shown_rows = [
        {"f": f, "op": op, "v": v, "g": g, "error": beside.get(i, "")} for i, (f, op, v, g) in enumerate(rows)
    ]
    groups = sorted({row["g"] for row in shown_rows}) or [0]
    context = project_context(
        access,
        "data",
        collection=collection,
        collections=[c["name"] for c in catalog.list_collections(project)],
        sort_links=sort_links,
        columns=columns,
        table=table,
        count=count,
        count_exact=count_exact,
        saved_views=saved_views.list_views(request.user, access.project.ref, name),
        current_query=saved_views.clean_query(request.GET.urlencode()),
        page_number=number,
        pages=pages,
        page_size=size,
        page_sizes=grid.PAGE_SIZES,
        next_href=page_href(number + 1) if result["next_cursor"] else None,
        prev_href=page_href(number - 1) if number > 1 else None,
        first_href=page_href(1) if number > 2 else None,
        filter_groups=[{"number": g, "rows": [r for r in shown_rows if r["g"] == g]} for g in groups],
        next_group=max(groups) + 1,
        filter_fields=["id", *fields, "created_at", "updated_at"],
        operators=list(df.OPERATORS),
        where_json=json.dumps(where, ensure_ascii=False),
        where_pretty=raw_where or json.dumps(where, indent=2, ensure_ascii=False) if where else raw_where,
        json_only=rows == [] and bool(where),
        error=error,
        keep_order=order,
        hidden_state=hidden_state,
        query_string="?" + urlencode([*base, ("order", order), ("page", str(number))]),
    )
    return page(request, "console/data/browse.html", context, status=400 if error or beside else 200)


def _form_fields(collection: dict[str, Any], doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for field, definition in collection["fields"].items():
        if definition["type"] == "relation":
            continue
        value = (doc or {}).get(field)
        shown = str(value) if isinstance(value, _Raw) else df.input_value(definition, value)
        item = {"name": field, "def": definition, "value": shown}
        if definition["type"] == "geopoint" and isinstance(value, dict):
            item["lat"], item["lng"] = value.get("lat"), value.get("lng")
        out.append(item)
    return out


def _doc_page(
    request,
    access,
    collection,
    doc,
    errors=None,
    posted=None,
    status=200,
    *,
    etag: int | None = None,
    conflict: ConflictNotice | None = None,
    delete_conflict: ConflictNotice | None = None,
    gone: str = "",
) -> HttpResponse:
    context = project_context(
        access,
        "data",
        collection=collection,
        doc=doc,
        # The version the form was filled from: saving sends it as If-Match.
        etag=etag,
        conflict=conflict,
        delete_conflict=delete_conflict,
        gone=gone,
        form_fields=_form_fields(collection, posted if posted is not None else doc),
        acl_text=(posted or {}).get("acl")
        if posted
        else json.dumps((doc or {}).get("acl", {}), indent=2)
        if doc
        else "",
        raw_json=json.dumps(doc, indent=2, ensure_ascii=False) if doc else "",
        errors=errors or {},
        # A user field may be called "items"; pairs avoid the template's dict.items() ambiguity.
        error_pairs=list((errors or {}).items()),
    )
    return page(request, "console/data/document.html", context, status=status)


def _errors(exc: BasaltError) -> dict[str, list[str]]:
    if isinstance(exc.details, dict) and all(isinstance(v, list) for v in exc.details.values()):
        return {k.split(".")[0]: v for k, v in exc.details.items()}
    return {"general": error_messages(exc)}


def _posted_doc(collection: dict[str, Any], post: Any) -> dict[str, Any]:
    """Echo the raw form back so a refused save keeps what the user typed."""
    echoed: dict[str, Any] = {"acl": post.get("acl", "")}
    for field, definition in collection["fields"].items():
        if definition["type"] == "geopoint":
            echoed[field] = {"lat": post.get(f"{field}__lat"), "lng": post.get(f"{field}__lng")}
        elif definition["type"] in ("object", "array"):
            echoed[field] = _Raw(post.get(field, ""))
        else:
            echoed[field] = post.get(field)
    return echoed


class _Raw(str):
    """Typed-in JSON text redisplayed verbatim (input_value would re-encode a str)."""


@project_view
def document_new(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    perm = Perm.CHANGE_DATA if request.method == "POST" else Perm.VIEW
    project, caller = _caller(request, access, perm)
    collection = catalog.describe(catalog.get_collection(project, name))
    if request.method != "POST":
        return _doc_page(request, access, collection, None)
    try:
        body = df.checked_body(project, name, collection["fields"], request.POST, None)
        created = services.create_document(caller, name, body).body
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        return _doc_page(request, access, collection, None, _errors(exc), _posted_doc(collection, request.POST), 400)
    messages.success(request, f"Document {created['id']} created.")
    return redirect("console:document", access.project.ref, name, created["id"])


@project_view
def document_detail(request: HttpRequest, access: ProjectAccess, name: str, doc_id: str) -> HttpResponse:
    perm = Perm.CHANGE_DATA if request.method == "POST" else Perm.VIEW
    project, caller = _caller(request, access, perm)
    collection = catalog.describe(catalog.get_collection(project, name))
    if request.method != "POST":
        found = services.get_document(caller, name, doc_id)
        return _doc_page(request, access, collection, found.body, etag=found.version)
    posted = _posted_doc(collection, request.POST)
    try:
        current = services.get_document(caller, name, doc_id)
        body = df.checked_body(project, name, collection["fields"], request.POST, current.body)
        # The version the form was filled from: a save from a stale tab is refused, not merged.
        services.update_document(caller, name, doc_id, body, if_match=_etag_of(request.POST))
    except NotFound:
        return _gone(request, access, collection, doc_id, posted)
    except PreconditionFailed:
        latest = services.get_document(caller, name, doc_id)
        notice = ConflictNotice(
            "Someone saved this document (in another tab or another session) after you opened it.",
            show_current(latest.body),
            request.path,
        )
        return _doc_page(
            request, access, collection, latest.body, {}, posted, 412, etag=latest.version, conflict=notice
        )
    except BasaltError as exc:
        if exc.status == 403:
            raise
        return _doc_page(request, access, collection, current.body, _errors(exc), posted, 400, etag=current.version)
    messages.success(request, "Document saved.")
    return redirect("console:document", access.project.ref, name, doc_id)


def _etag_of(post: Any) -> str | None:
    version = (post.get("etag") or "").strip()
    return f'"{version}"' if version.isascii() and version.isdigit() else None


def _gone(request, access, collection, doc_id: str, posted: dict[str, Any]) -> HttpResponse:
    """The document was deleted elsewhere: say so here, keeping what was typed to create it anew."""
    return _doc_page(request, access, collection, None, {}, posted, 404, gone=doc_id)


@project_view
def document_delete(request: HttpRequest, access: ProjectAccess, name: str, doc_id: str) -> HttpResponse:
    project, caller = _caller(request, access, Perm.CHANGE_DATA)
    try:
        services.delete_document(caller, name, doc_id, if_match=_etag_of(request.POST))
    except NotFound:
        messages.info(request, f"Document {doc_id} does not exist: it was deleted, perhaps in another tab or session.")
        return redirect("console:data_collection", access.project.ref, name)
    except PreconditionFailed:
        collection = catalog.describe(catalog.get_collection(project, name))
        latest = services.get_document(caller, name, doc_id)
        notice = ConflictNotice(
            "Someone saved this document after you opened it, so it was not deleted.",
            show_current(latest.body),
            reverse("console:document", args=[access.project.ref, name, doc_id]),
            overwrite_label="Delete it anyway",
        )
        return _doc_page(
            request, access, collection, latest.body, status=412, etag=latest.version, delete_conflict=notice
        )
    messages.success(request, f"Document {doc_id} deleted.")
    return redirect("console:data_collection", access.project.ref, name)


# --- inline cells, bulk actions, pointer search -------------------------------------------------


def _cell_context(access, name: str, doc: dict[str, Any], field: str, definition: dict[str, Any], **extra):
    return {
        "project": access.project,
        "can": access.can,
        "collection_name": name,
        "doc_id": doc["id"],
        "c": {"name": field, "editable": True, **grid.cell(doc.get(field), definition, access.project.ref)},
        "definition": definition,
        "editable": True,
        **extra,
    }


@project_view
def document_cell(request: HttpRequest, access: ProjectAccess, name: str, doc_id: str, field: str) -> HttpResponse:
    """One grid cell: shown (GET ?show=1), its editor (GET), or saved with If-Match (POST)."""
    showing = request.method != "POST" and request.GET.get("show")
    project, caller = _caller(request, access, Perm.VIEW if showing else Perm.CHANGE_DATA)
    collection = catalog.describe(catalog.get_collection(project, name))
    definition = collection["fields"].get(field)
    if definition is None or definition["type"] == "relation":
        raise NotFound("This collection has no such field.")
    try:
        found = services.get_document(caller, name, doc_id)
    except NotFound:
        return page(request, "console/data/cell_gone.html", {"doc_id": doc_id}, status=404)
    if showing:
        return page(request, "console/data/cell.html", _cell_context(access, name, found.body, field, definition))
    if request.method != "POST":
        return _cell_editor(request, access, name, found.body, field, definition, found.version)
    given, value = False, None
    try:
        given, value = df.form_value(field, definition, request.POST)
        body = {field: value if given else {"__op": "unset"}}
        services.update_document(caller, name, doc_id, body, if_match=_etag_of(request.POST))
    except NotFound:
        return page(request, "console/data/cell_gone.html", {"doc_id": doc_id}, status=404)
    except PreconditionFailed:
        latest = services.get_document(caller, name, doc_id)
        conflict = grid.cell(latest.body.get(field), definition, access.project.ref)
        return _typed_again(request, access, name, latest, field, definition, given, value, 412, conflict=conflict)
    except BasaltError as exc:
        if exc.status == 403:
            raise
        error = "; ".join(m for v in _errors(exc).values() for m in v)
        raw = request.POST.get(field, "") if definition["type"] in ("object", "array", "number") else None
        return _typed_again(request, access, name, found, field, definition, given, value, 400, error=error, raw=raw)
    saved = services.get_document(caller, name, doc_id)
    response = page(
        request, "console/data/cell.html", _cell_context(access, name, saved.body, field, definition, saved_now=True)
    )
    response["HX-Trigger"] = "cellSaved"
    return response


def _typed_again(request, access, name, stored, field, definition, given, value, status, **extra) -> HttpResponse:
    """The editor again over the stored document (its version for If-Match), keeping what was typed."""
    body = stored.body
    typed = {**body, field: value} if given else {k: v for k, v in body.items() if k != field}
    return _cell_editor(request, access, name, typed, field, definition, stored.version, status=status, **extra)


def _cell_editor(request, access, name, doc, field, definition, version, status=200, **extra) -> HttpResponse:
    edit = grid.editor(definition, doc.get(field))
    if extra.get("raw") is not None:
        edit["value"] = extra["raw"]
    context = _cell_context(access, name, doc, field, definition, edit=edit, etag=version, **extra)
    return page(request, "console/data/cell_edit.html", context, status=status)


BULK_MAX = 100


@project_view
def document_bulk(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    """Delete the selected rows, or give them one ACL, each through the document services."""
    project, caller = _caller(request, access, Perm.CHANGE_DATA)
    catalog.get_collection(project, name)
    back = request.POST.get("back") or ""
    landing = reverse("console:data_collection", args=[access.project.ref, name])
    landing += back if back.startswith("?") and len(back) < 4000 else ""
    ids = [i for i in request.POST.getlist("ids") if i][:BULK_MAX]
    op = request.POST.get("op")
    if not ids:
        messages.error(request, "Select at least one row first.")
        return redirect(landing)
    acl: Any = None
    if op == "acl":
        try:
            acl = json.loads(request.POST.get("acl") or "")
            from basalt.documents.access import validate_acl

            validate_acl(acl)
        except (ValueError, BasaltError) as exc:
            reason = exc.message if isinstance(exc, BasaltError) else "it is not valid JSON"
            messages.error(request, f"ACL not applied: {reason}.")
            return redirect(landing)
    elif op != "delete":
        messages.error(request, "Choose delete or set ACL.")
        return redirect(landing)
    done, failed = 0, []
    for doc_id in ids:
        try:
            if op == "delete":
                services.delete_document(caller, name, doc_id)
            else:
                services.update_document(caller, name, doc_id, {"acl": acl})
            done += 1
        except BasaltError as exc:
            if exc.status == 403:
                raise
            failed.append(f"{doc_id[:32]}: {exc.message}")
    verb = "deleted" if op == "delete" else "given the new ACL"
    messages.success(request, f"{done} document{'s' if done != 1 else ''} {verb}.")
    if failed:
        messages.error(request, "Not changed: " + "; ".join(failed[:5]))
    return redirect(landing)


@project_view
def pointer_search(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    """Options for a pointer editor: documents of the target collection whose id or first text field match."""
    project, caller = _caller(request, access, Perm.VIEW)
    collection = catalog.describe(catalog.get_collection(project, name))
    text = next((k for k, v in collection["fields"].items() if v["type"] == "string"), None)
    # The editor's own input is named after the document field it fills (`?field=` says which).
    q = (request.GET.get("q") or request.GET.get(request.GET.get("field") or "q") or "").strip()[:64]
    where: dict[str, Any] = {}
    if q:
        # ids take equality only (no $regex on id); the first text field is searched by substring.
        clauses: list[dict[str, Any]] = [{"id": q}]
        if text:
            clauses.append({text: {"$regex": literal_pattern(q), "$options": "i"}})
        where = {"$or": clauses}
    try:
        found = find_documents(caller, name, {"where": where, "limit": 10, "order": ["-created_at"]})["results"]
    except BasaltError:
        found = []
    options = [{"id": d["id"], "label": str(d.get(text) or "")[:60] if text else ""} for d in found]
    return page(request, "console/data/pointer_options.html", {"options": options})


@project_view
def saved_view_save(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    """Save the page's current filter, order and size under a name the whole team sees."""
    query = request.POST.get("query") or ""
    landing = reverse("console:data_collection", args=[access.project.ref, name])
    try:
        view = saved_views.save_view(request.user, access.project.ref, name, request.POST.get("name") or "", query)
    except ValidationFailed as exc:
        messages.error(request, "View not saved: " + "; ".join(error_messages(exc)))
        return redirect(landing + ("?" + saved_views.clean_query(query) if len(query) < 4000 else ""))
    messages.success(request, f"View “{view.name}” saved for everyone on this project.")
    return redirect(f"{landing}?{view.query}")


@project_view
def saved_view_delete(request: HttpRequest, access: ProjectAccess, name: str, view_id: str) -> HttpResponse:
    saved_views.delete_view(request.user, access.project.ref, name, view_id)
    messages.success(request, "View deleted.")
    return redirect("console:data_collection", access.project.ref, name)
