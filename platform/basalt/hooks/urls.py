"""Webhook routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.hooks import api

REF = r"projects/(?P<ref>[^/]+)"
EP = r"(?P<endpoint_id>[^/]+)"
DL = r"(?P<delivery_id>[^/]+)"

urlpatterns = [
    re_path(rf"^{REF}/webhooks/?$", api.EndpointListView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/?$", api.EndpointView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/deliveries/?$", api.DeliveryListView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/ping/?$", api.PingView.as_view()),
    re_path(rf"^{REF}/deliveries/{DL}/?$", api.DeliveryView.as_view()),
    re_path(rf"^{REF}/deliveries/{DL}/redeliver/?$", api.RedeliverView.as_view()),
]
