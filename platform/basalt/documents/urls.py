"""Public data-API routes of this area, mounted under /api/v1/ by basalt.urls."""

urlpatterns: list = []
