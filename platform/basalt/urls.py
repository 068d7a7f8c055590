"""Route the public API, the management API, health probes and (later) the console."""

from django.urls import include, path, re_path

from basalt.core.views import api_not_found
from basalt.health import views as health
from basalt.operations.metrics import metrics_view
from basalt.projects.api.data_views import CurrentProjectView

API = "api/v1/"

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_view),
    # The Parse-compatible face (API.md §13): its own error shapes, so outside /api/. Early in the
    # list: Django tries the patterns in order, and no other one starts with parse/.
    path("parse/", include("basalt.parse.urls")),
    path(API + "manage/auth/", include("basalt.accounts.urls")),
    path(API + "manage/", include("basalt.projects.api.urls")),
    re_path(r"^api/v1/project/?$", CurrentProjectView.as_view()),
    path(API, include("basalt.documents.urls")),
    path(API, include("basalt.identity.urls")),
    path(API + "manage/", include("basalt.documents.urls_manage")),
    path("console/", include("console.urls")),
    path(API + "manage/", include("basalt.usage.urls")),
    path(API, include("basalt.realtime.urls")),
    path(API + "manage/", include("basalt.hooks.urls")),
    path(API + "manage/", include("basalt.operations.urls")),
    path(API, include("basalt.files.urls")),
    path(API, include("basalt.push.urls")),
    # Must stay last: every other /api/ path is a JSON 404, never an HTML page.
    re_path(r"^api/", api_not_found),
]
