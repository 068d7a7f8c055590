"""Saved views of the console's data browser: a named filter, sort and page size of one collection,
shared by the project's members. Every member reads them; saving and deleting change the project,
so they need the change-data permission (viewers change nothing)."""

from __future__ import annotations

import unicodedata

from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.http import urlencode

from basalt.core.errors import NotFound, ValidationFailed
from basalt.documents import catalog
from basalt.documents.models import SavedView
from basalt.projects.roles import Perm
from basalt.projects.services import access_project

# The query-string keys the data page reads: filter rows, groups, order, page size, the where box.
VIEW_KEYS = ("f", "op", "v", "g", "order", "size", "where", "source")
MAX_QUERY = 2000
MAX_NAME = 60
MAX_VIEWS = 50  # per collection: a shelf, not a store


def clean_query(raw: str) -> str:
    """The query string with only the keys the data page reads, in a canonical order."""
    text = str(raw or "").removeprefix("?")
    if len(text) > 4 * MAX_QUERY:
        raise ValidationFailed(details={"query": [f"A view is at most {MAX_QUERY} characters of query."]})
    params = QueryDict(text)
    kept = [(key, value) for key in VIEW_KEYS for value in params.getlist(key)]
    query = urlencode(kept)
    if len(query) > MAX_QUERY:
        raise ValidationFailed(details={"query": [f"A view is at most {MAX_QUERY} characters of query."]})
    return query


def clean_name(raw: str) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise ValidationFailed(details={"name": ["Give the view a name."]})
    if len(name) > MAX_NAME or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise ValidationFailed(details={"name": [f"At most {MAX_NAME} printable characters."]})
    return name


def list_views(account, ref: str, collection_name: str) -> list[SavedView]:
    project = access_project(account, ref, Perm.VIEW)
    collection = catalog.get_collection(project, collection_name)
    return list(SavedView.objects.filter(collection=collection).order_by("name"))


def save_view(account, ref: str, collection_name: str, name: str, query: str) -> SavedView:
    """Save the view under its name; a view of the same name is replaced."""
    project = access_project(account, ref, Perm.CHANGE_DATA)
    collection = catalog.get_collection(project, collection_name)
    name, query = clean_name(name), clean_query(query)
    with transaction.atomic():
        updated = SavedView.objects.filter(collection=collection, name=name).update(query=query)
        if updated:
            return SavedView.objects.get(collection=collection, name=name)
        if SavedView.objects.filter(collection=collection).count() >= MAX_VIEWS:
            raise ValidationFailed(
                details={"name": [f"A collection keeps at most {MAX_VIEWS} views; delete one first."]}
            )
        try:
            with transaction.atomic():
                return SavedView.objects.create(collection=collection, name=name, query=query, created_by=account)
        except IntegrityError:  # saved under the same name at the same moment: the later one wins
            SavedView.objects.filter(collection=collection, name=name).update(query=query)
            return SavedView.objects.get(collection=collection, name=name)


def delete_view(account, ref: str, collection_name: str, view_id: object) -> None:
    project = access_project(account, ref, Perm.CHANGE_DATA)
    collection = catalog.get_collection(project, collection_name)
    text = str(view_id or "")
    deleted = 0
    if text.isascii() and text.isdigit() and len(text) < 19:
        deleted, _ = SavedView.objects.filter(collection=collection, pk=int(text)).delete()
    if not deleted:
        raise NotFound("No such view.")
