"""Whether console sign-up is open on this installation."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class SignupOpen(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(settings.CONSOLE_SIGNUP_OPEN)
