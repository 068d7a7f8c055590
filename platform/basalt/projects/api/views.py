"""Management API faces: parse, call one service, render (API.md §8)."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.core.errors import ValidationFailed
from basalt.projects import services
from basalt.projects.api.serializers import key_out, member_out, project_out
from basalt.projects.models import Membership


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed(details={"body": ["Must be a JSON object."]})
    return data


class ProjectListView(APIView):
    def get(self, request):
        roles = dict(Membership.objects.filter(account=request.user).values_list("project_id", "role"))
        return Response({"results": [project_out(p, roles.get(p.pk)) for p in services.list_projects(request.user)]})

    def post(self, request):
        project = services.create_project(request.user, _body(request).get("name"))
        return Response(project_out(project, "owner"), status=201)


class ProjectDetailView(APIView):
    def get(self, request, ref):
        project = services.access_project(request.user, ref)
        role = Membership.objects.get(project=project, account=request.user).role
        return Response(project_out(project, role))

    def patch(self, request, ref):
        body = _body(request)
        unknown = set(body) - {"name", "settings"}
        if unknown:
            raise ValidationFailed(details={name: ["Unknown field."] for name in sorted(unknown)})
        project = services.access_project(request.user, ref)
        if "name" in body:
            project = services.rename_project(request.user, ref, body["name"])
        if "settings" in body:
            services.change_project_settings(request.user, ref, body["settings"])
        return Response(project_out(project))

    def delete(self, request, ref):
        services.delete_project(request.user, ref)
        return Response(status=204)


class KeyListView(APIView):
    def get(self, request, ref):
        return Response({"results": [key_out(key) for key in services.list_keys(request.user, ref)]})

    def post(self, request, ref):
        body = _body(request)
        new = services.create_key_for(request.user, ref, body.get("kind"), body.get("name", ""))
        return Response(key_out(new.key, new.raw), status=201)


class KeyDetailView(APIView):
    def delete(self, request, ref, key_id):
        services.revoke_key(request.user, ref, key_id)
        return Response(status=204)


class MemberListView(APIView):
    def get(self, request, ref):
        return Response({"results": [member_out(m) for m in services.list_members(request.user, ref)]})

    def post(self, request, ref):
        body = _body(request)
        membership = services.add_member(request.user, ref, body.get("email"), body.get("role"))
        return Response(member_out(membership), status=201)


class MemberDetailView(APIView):
    def patch(self, request, ref, member_id):
        membership = services.change_member_role(request.user, ref, member_id, _body(request).get("role"))
        return Response(member_out(membership))

    def delete(self, request, ref, member_id):
        services.remove_member(request.user, ref, member_id)
        return Response(status=204)


class SettingsView(APIView):
    def get(self, request, ref):
        return Response(services.get_project_settings(request.user, ref))

    def patch(self, request, ref):
        return Response(services.change_project_settings(request.user, ref, _body(request)))
