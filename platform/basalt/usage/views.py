"""GET /api/v1/manage/projects/{ref}/usage (API.md §8)."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.usage import services


class UsageView(APIView):
    def get(self, request, ref):
        return Response(services.project_usage(request.user, ref, request.query_params.get("days")))
