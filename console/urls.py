"""Console pages, mounted at /console/ by basalt.urls."""

urlpatterns: list = []
