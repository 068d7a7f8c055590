"""Console account routes (djoser + simplejwt) under /api/v1/manage/auth/; trailing slash optional."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from basalt.accounts import views


class OptionalSlashRouter(SimpleRouter):
    """SimpleRouter turns any truthy trailing_slash into "/"; API.md paths work with and without it."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("users", views.AccountViewSet, basename="account")

urlpatterns = [
    re_path(r"^jwt/create/?$", views.ThrottledTokenObtainPairView.as_view(), name="jwt-create"),
    re_path(r"^jwt/refresh/?$", views.ThrottledTokenRefreshView.as_view(), name="jwt-refresh"),
    re_path(r"^logout/?$", views.SignOutView.as_view(), name="logout"),
    re_path(r"^logout/all/?$", views.SignOutEverywhereView.as_view(), name="logout-all"),
    *router.urls,
]
