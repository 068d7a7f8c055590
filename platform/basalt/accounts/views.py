"""Console sign-in endpoints: djoser and simplejwt, with throttling added."""

from djoser.views import UserViewSet
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """Sign-in, limited per client address so passwords cannot be guessed at speed."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "console_signin"


class ThrottledTokenRefreshView(TokenRefreshView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "console_signin"


class AccountViewSet(UserViewSet):
    """djoser's account endpoints; creation throttled against sign-up floods."""

    def get_throttles(self):
        if self.action == "create":
            self.throttle_scope = "console_signup"
            return [ScopedRateThrottle()]
        return super().get_throttles()
