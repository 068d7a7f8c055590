"""REST faces of API.md §4: parse, call one identity service, render."""

from __future__ import annotations

from rest_framework.response import Response

from basalt.core.errors import PermissionDenied
from basalt.identity import admin, keys, recovery, services, sessions
from basalt.identity.throttle import client_address
from basalt.projects.api.base import DataAPIView


def _client(request) -> services.Client:
    return services.Client(ip=client_address(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:256])


def _no_store(response: Response) -> Response:
    # Tokens must not land in shared caches.
    response["Cache-Control"] = "no-store"
    return response


class SignupView(DataAPIView):
    def post(self, request):
        return _no_store(Response(services.sign_up(request.caller, request.data, _client(request)), status=201))


class LoginView(DataAPIView):
    def post(self, request):
        return _no_store(Response(services.log_in(request.caller.project, request.data, _client(request))))


class RefreshView(DataAPIView):
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        return _no_store(Response(sessions.refresh(request.caller.project, body.get("refresh_token")).as_dict()))


class LogoutView(DataAPIView):
    def post(self, request):
        services.log_out(request.caller)
        return Response(status=204)


class AnonymousView(DataAPIView):
    def post(self, request):
        return _no_store(Response(services.sign_in_anonymously(request.caller.project, _client(request)), status=201))


class MeView(DataAPIView):
    def get(self, request):
        return _no_store(Response(services.get_me(request.caller)))

    # Signed in or not is answered (401) before the body is read (415, 400): a refusal of the body was
    # kept under the request's Idempotency-Key, and the next signed-out request with it was a 422.
    def patch(self, request):
        services.current_user(request.caller)
        return _no_store(Response(services.update_me(request.caller, request.data, _client(request))))

    def delete(self, request):
        services.current_user(request.caller)
        admin.delete_me(request.caller, request.data)
        return Response(status=204)


class SessionsView(DataAPIView):
    def get(self, request):
        return Response({"results": services.my_sessions(request.caller)})


class SessionView(DataAPIView):
    def delete(self, request, session_id: str):
        services.revoke_my_session(request.caller, session_id)
        return Response(status=204)


class VerifyRequestView(DataAPIView):
    def post(self, request):
        recovery.request_verification(request.caller, request.data)
        return Response({"status": "accepted"}, status=202)


class VerifyConfirmView(DataAPIView):
    def post(self, request):
        return Response(recovery.confirm_verification(request.caller.project, request.data))


class ResetView(DataAPIView):
    def post(self, request):
        recovery.request_reset(request.caller.project, request.data)
        return Response({"status": "accepted"}, status=202)


class ResetConfirmView(DataAPIView):
    def post(self, request):
        recovery.confirm_reset(request.caller.project, request.data)
        return Response(status=204)


class JwksView(DataAPIView):
    def get(self, request):
        response = Response(keys.jwks(request.caller.project))
        response["Cache-Control"] = "public, max-age=300"
        return response


class RotateKeyView(DataAPIView):
    def post(self, request):
        if not request.caller.is_secret:
            raise PermissionDenied("Signing keys are rotated with the secret key.")
        kid = keys.rotate(request.caller.project)
        return Response({"kid": kid, **keys.jwks(request.caller.project)}, status=201)


class UserAdminView(DataAPIView):
    def get(self, request, user_id: str):
        return Response(admin.get_user(request.caller, user_id))

    def patch(self, request, user_id: str):
        return Response(admin.update_user(request.caller, user_id, request.data))

    def delete(self, request, user_id: str):
        admin.delete_user(request.caller, user_id)
        return Response(status=204)


class UserSessionsAdminView(DataAPIView):
    def delete(self, request, user_id: str):
        admin.revoke_user_sessions(request.caller, user_id)
        return Response(status=204)
