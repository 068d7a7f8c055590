"""Collection faces: with a secret key (/api/v1/schema/…) and for console accounts (/api/v1/manage/…)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.core.caller import Caller
from basalt.core.errors import PermissionDenied
from basalt.documents import catalog
from basalt.documents.api.base import endpoint, json_body, no_content, respond
from basalt.projects.roles import Perm
from basalt.projects.services import access_project


def _secret(caller: Caller) -> None:
    if not caller.is_secret:
        raise PermissionDenied("Changing or reading the schema needs the secret key.")


def _list(request: HttpRequest, caller: Caller) -> HttpResponse:
    _secret(caller)
    return respond({"results": catalog.list_collections(caller.project)})


def _create(request: HttpRequest, caller: Caller) -> HttpResponse:
    _secret(caller)
    return respond(catalog.create_collection(caller.project, json_body(request)), 201)


def _get(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    _secret(caller)
    return respond(catalog.describe(catalog.get_collection(caller.project, name)))


def _patch(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    _secret(caller)
    return respond(catalog.update_collection(caller.project, name, json_body(request)))


def _delete(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    _secret(caller)
    catalog.delete_collection(caller.project, name)
    return no_content()


collections = endpoint(get=_list, post=_create)
collection = endpoint(get=_get, patch=_patch, delete=_delete)


class ManageCollectionsView(APIView):
    """Console accounts: viewers read, developers and up change the schema."""

    def get(self, request, ref):
        project = access_project(request.user, ref, Perm.VIEW)
        return Response({"results": catalog.list_collections(project)})

    def post(self, request, ref):
        project = access_project(request.user, ref, Perm.CHANGE_SCHEMA)
        return Response(catalog.create_collection(project, request.data), status=201)


class ManageCollectionView(APIView):
    def get(self, request, ref, name):
        project = access_project(request.user, ref, Perm.VIEW)
        return Response(catalog.describe(catalog.get_collection(project, name)))

    def patch(self, request, ref, name):
        project = access_project(request.user, ref, Perm.CHANGE_SCHEMA)
        return Response(catalog.update_collection(project, name, request.data))

    def delete(self, request, ref, name):
        project = access_project(request.user, ref, Perm.CHANGE_SCHEMA)
        catalog.delete_collection(project, name)
        return Response(status=204)
