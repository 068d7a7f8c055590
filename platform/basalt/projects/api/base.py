"""The base for every data-API view: the Caller is resolved before any handler runs."""

from __future__ import annotations

from rest_framework.views import APIView

from basalt.projects.caller import resolve_caller


class DataAPIView(APIView):
    """Fails closed: a subclass cannot reach its handler without a resolved `request.caller`."""

    authentication_classes: list = []
    permission_classes: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.caller = resolve_caller(request)
