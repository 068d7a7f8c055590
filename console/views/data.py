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
from basalt.documents import catalog, services
from basalt.documents.finding import find_documents
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console import data_forms as df
from console.caller import console_caller
from console.preconditions import ConflictNotice, show_current
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view

PAGE_SIZE = 25


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


def _filter_rows(params: Any) -> list[tuple[str, str, str]]:
    fields, ops, values = params.getlist("f"), params.getlist("op"), params.getlist("v")
    return [(f, ops[i] if i < len(ops) else "=", values[i] if i < len(values) else "") for i, f in enumerate(fields)]


@project_view
def data_collection(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    project, caller = _caller(request, access, Perm.VIEW)
    collection = catalog.describe(catalog.get_collection(project, name))
    fields = {k: v for k, v in collection["fields"].items() if v["type"] != "relation"}
    rows = _filter_rows(request.GET)
    order = request.GET.get("order") or "-created_at"
    raw_where = (request.GET.get("where") or "").strip()
    error = ""
    where: dict[str, Any] = {}
    try:
        if raw_where:
            try:
                where = json.loads(raw_where)
            except ValueError:
                raise ValidationFailed(details={"where": ["The where box is not valid JSON."]}) from None
        else:
            where = df.build_where(rows, fields)
        query: dict[str, Any] = {"where": where, "order": order.split(","), "limit": PAGE_SIZE, "count": True}
        if request.GET.get("cursor"):
            query["cursor"] = request.GET["cursor"]
        result = find_documents(caller, name, query)
    except BasaltError as exc:
        if exc.status in (403, 404) and exc.code != "invalid_query":
            raise
        error = "; ".join(error_messages(exc))
        result = {"results": [], "next_cursor": None, "count": None}
    columns = ["id", *fields, "created_at", "updated_at"]
    keep = {key: value for key, value in request.GET.items() if key not in ("cursor", "order")}
    base = [(k, v) for k, v in request.GET.lists() if k not in ("cursor", "order") for v in v]
    table = [{"id": doc["id"], "cells": [df.cell(doc.get(column)) for column in columns]} for doc in result["results"]]
    sort_links = []
    for column in columns:
        descending = order == column
        target = f"-{column}" if descending else column
        state = "ascending" if order == column else "descending" if order == f"-{column}" else "none"
        sort_links.append({"name": column, "href": "?" + urlencode([*base, ("order", target)]), "state": state})
    context = project_context(
        access,
        "data",
        collection=collection,
        collections=[c["name"] for c in catalog.list_collections(project)],
        sort_links=sort_links,
        table=table,
        count=result.get("count"),
        next_href=("?" + urlencode([*base, ("order", order), ("cursor", result["next_cursor"])]))
        if result["next_cursor"]
        else None,
        first_href=("?" + urlencode([*base, ("order", order)])) if request.GET.get("cursor") else None,
        filter_rows=[row for row in rows if row[0]] or [("", "=", "")],
        filter_fields=["id", *fields, "created_at", "updated_at"],
        operators=list(df.OPERATORS),
        where_json=json.dumps(where, ensure_ascii=False),
        raw_where=raw_where,
        error=error,
        keep=keep,
    )
    return page(request, "console/data/browse.html", context, status=400 if error else 200)


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
    return f'"{version}"' if version.isdigit() else None


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
