"""Data-API endpoints about the key's own project."""

from rest_framework.response import Response

from basalt.projects.api.base import DataAPIView
from basalt.projects.api.serializers import project_out


class CurrentProjectView(DataAPIView):
    """Let an SDK confirm which project its key belongs to, and which kind of key it holds."""

    def get(self, request):
        caller = request.caller
        return Response({**project_out(caller.project), "key_kind": caller.key_kind, "user_id": caller.user_id})
