"""Management API faces: parse, call one service, render (API.md §8)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.projects import invitations, services
from basalt.projects.api.serializers import invitation_out, key_out, member_out, project_out


class ProjectListView(APIView):
    def get(self, request):
        projects = services.list_projects_with_roles(request.user)
        return Response({"results": [project_out(project, role) for project, role in projects]})

    def post(self, request):
        project = services.create_project_from_body(request.user, request.data)
        return Response(project_out(project, "owner"), status=201)


class ProjectDetailView(APIView):
    def get(self, request, ref):
        return Response(project_out(*services.get_project(request.user, ref)))

    def patch(self, request, ref):
        return Response(project_out(*services.update_project(request.user, ref, request.data)))

    def delete(self, request, ref):
        services.delete_project(request.user, ref)
        return Response(status=204)


class KeyListView(APIView):
    def get(self, request, ref):
        return Response({"results": [key_out(key) for key in services.list_keys(request.user, ref)]})

    def post(self, request, ref):
        new = services.create_key_from_body(request.user, ref, request.data)
        return Response(key_out(new.key, new.raw), status=201)


class KeyDetailView(APIView):
    def delete(self, request, ref, key_id):
        services.revoke_key(request.user, ref, key_id)
        return Response(status=204)


class MemberListView(APIView):
    def get(self, request, ref):
        return Response({"results": [member_out(m) for m in services.list_members(request.user, ref)]})

    def post(self, request, ref):
        # Adding a member sends an invitation: 202 (not a member until they accept), the same
        # answer whether or not the address has a console account.
        invitation = invitations.invite_member_from_body(request.user, ref, request.data, accept_url(request))
        return Response(invitation_out(invitation), status=202)


class MemberDetailView(APIView):
    def patch(self, request, ref, member_id):
        return Response(member_out(services.change_member_from_body(request.user, ref, member_id, request.data)))

    def delete(self, request, ref, member_id):
        services.remove_member(request.user, ref, member_id)
        return Response(status=204)


class SettingsView(APIView):
    def get(self, request, ref):
        return Response(services.get_project_settings(request.user, ref))

    def patch(self, request, ref):
        return Response(services.change_project_settings(request.user, ref, request.data))


def accept_url(request) -> str:
    """The console's accept page on this host, with `{token}` for the service to fill in."""
    return request.build_absolute_uri(reverse("console:invite", kwargs={"token": "T"}))[:-1] + "{token}"


class InvitationListView(APIView):
    def get(self, request, ref):
        return Response({"results": [invitation_out(i) for i in invitations.list_invitations(request.user, ref)]})

    def post(self, request, ref):
        invitation = invitations.invite_member_from_body(request.user, ref, request.data, accept_url(request))
        return Response(invitation_out(invitation), status=201)


class InvitationDetailView(APIView):
    def delete(self, request, ref, invitation_id):
        invitations.revoke_invitation(request.user, ref, invitation_id)
        return Response(status=204)


class InvitationAcceptView(APIView):
    def post(self, request):
        membership = invitations.accept_invitation_from_body(request.user, request.data)
        return Response(project_out(membership.project, membership.role))
