"""Whether console sign-up is open on this installation."""

from django.conf import settings
from rest_framework.permissions import BasePermission

from basalt.core.errors import PermissionDenied


class SignupOpen(BasePermission):
    """Refuse sign-up with 403 when the operator closed it (DRF would answer 401 for anonymous callers)."""

    def has_permission(self, request, view) -> bool:
        if not settings.CONSOLE_SIGNUP_OPEN:
            raise PermissionDenied("Sign-up is closed on this installation; ask an administrator for an account.")
        return True
