"""REST faces for roles: `/api/v1/roles[/{name}]` and their `users` / `roles` membership."""

from __future__ import annotations

from rest_framework.response import Response

from basalt.core.errors import ValidationFailed
from basalt.identity import roles
from basalt.projects.api.base import DataAPIView


def _list_field(data, name: str):
    """The one list a membership body carries; other keys are refused, as the contract says."""
    if isinstance(data, dict) and set(data) - {name}:
        raise ValidationFailed(details={str(key)[:64]: ["Unknown field."] for key in sorted(set(data) - {name})[:20]})
    return data.get(name) if isinstance(data, dict) else None


class RolesView(DataAPIView):
    def get(self, request):
        return Response({"results": roles.list_roles(request.caller)})

    def post(self, request):
        return Response(roles.create_role(request.caller, request.data), status=201)


class RoleView(DataAPIView):
    def get(self, request, name: str):
        return Response(roles.get_role(request.caller, name))

    def patch(self, request, name: str):
        return Response(roles.update_role(request.caller, name, request.data))

    def delete(self, request, name: str):
        roles.delete_role(request.caller, name)
        return Response(status=204)


def _written(body) -> Response:
    # A write-only caller changed the role but may not read it: no body, like a delete.
    return Response(status=204) if body is None else Response(body)


class RoleUsersView(DataAPIView):
    def post(self, request, name: str):
        return _written(roles.add_users(request.caller, name, _list_field(request.data, "ids")))


class RoleUserView(DataAPIView):
    def delete(self, request, name: str, user_id: str):
        roles.remove_user(request.caller, name, user_id)
        return Response(status=204)


class RoleRolesView(DataAPIView):
    def post(self, request, name: str):
        return _written(roles.add_roles(request.caller, name, _list_field(request.data, "names")))


class RoleRoleView(DataAPIView):
    def delete(self, request, name: str, child: str):
        roles.remove_role(request.caller, name, child)
        return Response(status=204)
