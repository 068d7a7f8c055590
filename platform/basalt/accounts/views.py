"""Console sign-in endpoints: djoser and simplejwt, with throttling, sessions and tenancy-safe deletion."""

from __future__ import annotations

from djoser.views import UserViewSet
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from basalt.accounts import serializers, sessions
from basalt.core.errors import Conflict, Unauthenticated
from basalt.projects.models import Membership


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """Sign-in: opens a session; limited per client address, failures locked per address and account."""

    serializer_class = serializers.SignInSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "console_signin"


class ThrottledTokenRefreshView(TokenRefreshView):
    """Refresh: rotates the refresh token; a replayed one ends its session."""

    serializer_class = serializers.RefreshSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "console_signin"


class SignOutView(APIView):
    """POST logout/: end this session (its access and refresh tokens stop working at once)."""

    def post(self, request):
        sessions.sign_out(request.auth)
        return Response(status=204)


class SignOutEverywhereView(APIView):
    """POST logout/all/: end every session of the account, API tokens and console web sessions."""

    def post(self, request):
        sessions.revoke_all(request.user, reason="signed_out_everywhere")
        return Response(status=204)


class AccountViewSet(UserViewSet):
    """djoser's account endpoints; creation throttled, email changes kept unique, owners kept."""

    # Actions that create accounts or send e-mail to an address the caller names.
    MAILING_ACTIONS = ("create", "reset_password", "resend_activation", "reset_username")

    def get_throttles(self):
        if self.action in self.MAILING_ACTIONS:
            self.throttle_scope = "console_signup"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def permission_denied(self, request, **kwargs):
        # djoser reads request.user.is_authenticated here, but Basalt's unauthenticated user is
        # None (UNAUTHENTICATED_USER), which made every anonymous refusal a 500.
        if request.user is None:
            raise Unauthenticated()
        super().permission_denied(request, **kwargs)

    def get_serializer_class(self):
        if self.action == "set_username":
            return serializers.AccountSetEmailSerializer
        if self.action == "reset_username_confirm":
            return serializers.AccountResetEmailConfirmSerializer
        if self.action == "reset_password_confirm":
            return serializers.AccountPasswordResetConfirmSerializer
        return super().get_serializer_class()

    def destroy(self, request, *args, **kwargs):
        # djoser's destroy logs out through DRF's authtoken model, which Basalt does not install;
        # JWTs are stateless and stop working once the account row is gone.
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_destroy(instance)
        return Response(status=204)

    def perform_destroy(self, instance) -> None:
        sole = [
            m.project.ref
            for m in Membership.objects.filter(account=instance, role="owner").select_related("project")
            if not Membership.objects.filter(project=m.project, role="owner").exclude(account=instance).exists()
        ]
        if sole:
            # Deleting the last owner would leave projects nobody can manage or delete.
            raise Conflict(
                "This account is the only owner of some projects; transfer or delete them first.",
                details={"projects": sorted(sole)},
            )
        instance.delete()
