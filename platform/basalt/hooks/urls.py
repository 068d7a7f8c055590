"""Webhook routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.hooks import api, job_api

REF = r"projects/(?P<ref>[^/]+)"
EP = r"(?P<endpoint_id>[^/]+)"
DL = r"(?P<delivery_id>[^/]+)"
JOB = r"(?P<job_id>[^/]+)"

urlpatterns = [
    re_path(rf"^{REF}/webhooks/?$", api.EndpointListView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/?$", api.EndpointView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/deliveries/?$", api.DeliveryListView.as_view()),
    re_path(rf"^{REF}/webhooks/{EP}/ping/?$", api.PingView.as_view()),
    re_path(rf"^{REF}/deliveries/{DL}/?$", api.DeliveryView.as_view()),
    re_path(rf"^{REF}/deliveries/{DL}/redeliver/?$", api.RedeliverView.as_view()),
    re_path(rf"^{REF}/jobs/?$", job_api.JobListView.as_view()),
    re_path(rf"^{REF}/jobs/{JOB}/?$", job_api.JobView.as_view()),
    # GET: the runs; POST: run now.
    re_path(rf"^{REF}/jobs/{JOB}/runs/?$", job_api.JobRunsView.as_view()),
]
