"""REST faces of API.md §7: parse, call one push service, render."""

from __future__ import annotations

from rest_framework.response import Response

from basalt.core.errors import NotFound
from basalt.documents.api.params import query_from_params
from basalt.projects.api.base import DataAPIView
from basalt.push import credentials, installations, services

# The same parser as a collection's GET query, so `count`, `limit` and `where` are checked alike.
INSTALLATION_QUERY_PARAMS = frozenset({"where", "order", "limit", "cursor", "count"})


def _query_params(request) -> dict:
    return query_from_params(request.query_params, INSTALLATION_QUERY_PARAMS)


class InstallationsView(DataAPIView):
    def post(self, request):
        body, created = installations.register(request.caller, request.data)
        return Response(body, status=201 if created else 200)

    def get(self, request):
        return Response(installations.list_installations(request.caller, _query_params(request)))


class InstallationView(DataAPIView):
    def get(self, request, installation_id: str):
        return Response(installations.get_installation(request.caller, installation_id))

    def patch(self, request, installation_id: str):
        return Response(installations.update_installation(request.caller, installation_id, request.data))

    def delete(self, request, installation_id: str):
        installations.delete_installation(request.caller, installation_id)
        return Response(status=204)


class PushesView(DataAPIView):
    def post(self, request):
        body, status = services.send_push(request.caller, request.data)
        return Response(body, status=status)

    def get(self, request):
        return Response(services.list_pushes(request.caller, dict(request.query_params.items())))


class PushView(DataAPIView):
    def get(self, request, push_id: str):
        return Response(services.get_push(request.caller, push_id))

    def delete(self, request, push_id: str):
        return Response(services.cancel_push(request.caller, push_id))


class AudienceCountView(DataAPIView):
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else None
        return Response(services.audience_count(request.caller, body.get("audience") if body else None))


class VapidPublicKeyView(DataAPIView):
    """The VAPID public key web clients pass to `pushManager.subscribe` (publishable key is enough)."""

    def get(self, request):
        key = credentials.vapid_public_key(request.caller.project)
        if key is None:
            raise NotFound("Web Push is not configured for this project.")
        return Response({"public_key": key})
