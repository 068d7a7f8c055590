from django.urls import re_path
from rest_framework.routers import SimpleRouter

from basalt.accounts import views

router = SimpleRouter(trailing_slash="/?")
router.register("users", views.AccountViewSet, basename="account")

urlpatterns = [
    re_path(r"^jwt/create/?$", views.ThrottledTokenObtainPairView.as_view(), name="jwt-create"),
    re_path(r"^jwt/refresh/?$", views.ThrottledTokenRefreshView.as_view(), name="jwt-refresh"),
    *router.urls,
]
