"""REST faces of API.md §4 "Providers, linking and second factors"."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.core.errors import PermissionDenied, body_object
from basalt.identity import admin, federation, mfa, passkeys, services
from basalt.identity.api.views import _client, _no_store
from basalt.identity.serializers import user_out
from basalt.projects.api.base import DataAPIView
from basalt.projects.keys import resolve_key

BINDING_COOKIE = "basalt_oauth"
COOKIE_PATH = "/api/v1/auth/providers/"


def _signed_in(result: dict) -> dict:
    from basalt.identity import builtin

    user = result["user"]
    return {"user": user_out(user, builtin.custom_fields(user)), **result["pair"].as_dict()}


class ProviderSignInView(DataAPIView):
    def post(self, request, provider: str):
        return _no_store(Response(federation.sign_in(request.caller.project, provider, request.data, _client(request))))


class ProviderExchangeView(DataAPIView):
    def post(self, request):
        return _no_store(Response(federation.exchange(request.caller.project, request.data, _client(request))))


class _BrowserView(APIView):
    """A browser navigation (no headers of ours): DRF for the 405/Allow and error contract only."""

    authentication_classes: list = []
    permission_classes: list = []


class ProviderAuthorizeView(_BrowserView):
    """`GET …/{provider}/authorize?redirect_to=…&apikey=pk_…`: a browser cannot send headers, so the
    publishable key comes in the query (it is public anyway)."""

    def get(self, request, provider: str):
        key = resolve_key(request.GET.get("apikey") or request.META.get("HTTP_X_API_KEY"))
        callback = request.build_absolute_uri(f"/api/v1/auth/providers/{provider}/callback")
        url, binding = federation.authorize(key.project, provider, request.GET.get("redirect_to"), callback)
        response = HttpResponseRedirect(url)
        response.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=federation.STATE_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
        response["Cache-Control"] = "no-store"
        return response


class ProviderCallbackView(_BrowserView):
    def get(self, request, provider: str):
        target = federation.callback(provider, request.GET.dict(), request.COOKIES.get(BINDING_COOKIE))
        response = HttpResponseRedirect(target)
        response.delete_cookie(BINDING_COOKIE, path=COOKIE_PATH)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response


class IdentitiesView(DataAPIView):
    def get(self, request):
        return Response({"results": federation.my_identities(request.caller)})


class IdentityView(DataAPIView):
    def post(self, request, provider: str):
        services.current_user(request.caller)  # 401 before the body is read, as MeView
        return Response(federation.link(request.caller, provider, request.data), status=201)

    def delete(self, request, provider: str):
        federation.unlink(request.caller, provider)
        return Response(status=204)


class MfaView(DataAPIView):
    def get(self, request):
        user = services.current_user(request.caller)
        return Response({"methods": mfa.methods(user), "required": mfa.auth_settings(user.project).require_mfa})


class TotpEnrollView(DataAPIView):
    def post(self, request):
        body = body_object(request.data)
        if "mfa_token" in body:
            return _no_store(Response(mfa.enroll_with_challenge(request.caller.project, body)))
        return _no_store(Response(mfa.enroll(services.current_user(request.caller))))


class TotpConfirmView(DataAPIView):
    def post(self, request):
        body = body_object(request.data)
        if "mfa_token" in body:
            result = mfa.confirm_with_challenge(request.caller.project, body)
            return _no_store(Response({"recovery_codes": result["recovery_codes"], **_signed_in(result)}))
        return _no_store(Response(mfa.confirm(services.current_user(request.caller), body)))


class TotpView(DataAPIView):
    def delete(self, request):
        user = services.current_user(request.caller)
        if mfa.auth_settings(user.project).require_mfa:
            raise PermissionDenied("This project requires a second factor; it cannot be removed.")
        mfa.remove_totp(user)
        return Response(status=204)


class MfaVerifyView(DataAPIView):
    def post(self, request):
        return _no_store(Response(_signed_in(mfa.verify(request.caller.project, request.data))))


class UserMfaAdminView(DataAPIView):
    def delete(self, request, user_id: str):
        admin._require_secret(request.caller)
        mfa.reset_by_admin(admin._user(request.caller, user_id))
        return Response(status=204)


class PasskeyRegisterOptionsView(DataAPIView):
    def post(self, request):
        return _no_store(Response(passkeys.register_options(services.current_user(request.caller))))


class PasskeyRegisterView(DataAPIView):
    def post(self, request):
        return Response(passkeys.register(services.current_user(request.caller), request.data), status=201)


class PasskeyLoginOptionsView(DataAPIView):
    def post(self, request):
        return _no_store(Response(passkeys.login_options(request.caller.project, request.data)))


class PasskeyLoginView(DataAPIView):
    def post(self, request):
        return _no_store(Response(passkeys.login(request.caller.project, request.data, _client(request))))


class PasskeysView(DataAPIView):
    def get(self, request):
        return Response({"results": passkeys.my_passkeys(services.current_user(request.caller))})


class PasskeyView(DataAPIView):
    def delete(self, request, passkey_id: str):
        passkeys.remove(services.current_user(request.caller), passkey_id)
        return Response(status=204)
