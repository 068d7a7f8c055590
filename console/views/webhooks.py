"""Webhooks pages: endpoints (secret shown once), the failure notice, deliveries, ping, redeliver."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.core.json import dumps
from basalt.hooks import events, services
from console.views.common import ProjectAccess, attach_errors, page, project_context, project_view


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/basalt"}),
    )
    description = forms.CharField(label="Description", required=False, max_length=200)
    events = forms.MultipleChoiceField(
        label="Events", choices=[(name, name) for name in events.EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    collections = forms.CharField(label="Collections (comma-separated; empty: all)", required=False, max_length=2000)
    where = forms.CharField(label="Filter (where, JSON; needs one collection)", required=False, max_length=4000)

    def body(self) -> dict:
        data = self.cleaned_data
        body = {"url": data["url"], "description": data["description"], "events": data["events"]}
        names = [n.strip() for n in data["collections"].split(",") if n.strip()]
        if names:
            body["collections"] = names
        if data["where"].strip():
            import orjson

            try:
                body["where"] = orjson.loads(data["where"])
            except orjson.JSONDecodeError:
                self.add_error("where", "Not valid JSON.")
        return body


def _list_page(request: HttpRequest, access: ProjectAccess, status: int = 200, **extra) -> HttpResponse:
    context = project_context(
        access,
        "webhooks",
        endpoints=services.list_endpoints(request.user, access.project.ref),
        disabled=services.auto_disabled(access.project),
        form=extra.pop("form", None) or EndpointForm(),
        **extra,
    )
    return page(request, "console/webhooks/webhooks.html", context, status=status)


@project_view
def webhooks(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _list_page(request, access)


@project_view
def endpoint_create(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = EndpointForm(request.POST)
    if form.is_valid():
        body = form.body()
        if form.is_valid():
            try:
                new = services.create_endpoint(request.user, access.project.ref, body)
            except BasaltError as exc:
                if exc.status == 403:
                    raise
                attach_errors(form, exc)
            else:
                # Rendered, not redirected: the signing secret exists only in this response.
                return _list_page(request, access, status=201, new=new)
    return _list_page(request, access, status=400, form=form)


@project_view
def endpoint(request: HttpRequest, access: ProjectAccess, endpoint_id: str) -> HttpResponse:
    item = services.get_endpoint(request.user, access.project.ref, endpoint_id)
    status = request.GET.get("status") or None
    log = services.list_deliveries(request.user, access.project.ref, endpoint_id, {"status": status} if status else {})
    context = project_context(
        access,
        "webhooks",
        endpoint=item,
        deliveries=log["results"],
        status_filter=status or "",
        statuses=["pending", "sending", "succeeded", "failed"],
    )
    return page(request, "console/webhooks/endpoint.html", context)


@project_view
def delivery(request: HttpRequest, access: ProjectAccess, delivery_id: str) -> HttpResponse:
    item = services.get_delivery(request.user, access.project.ref, delivery_id)
    context = project_context(
        access,
        "webhooks",
        delivery=item,
        payload=dumps(item.payload).decode(),
        attempts=services.delivery_attempts(item),
    )
    return page(request, "console/webhooks/delivery.html", context)


@project_view
def endpoint_toggle(request: HttpRequest, access: ProjectAccess, endpoint_id: str) -> HttpResponse:
    enable = request.POST.get("enabled") == "true"
    services.update_endpoint(request.user, access.project.ref, endpoint_id, {"enabled": enable})
    messages.success(request, "Endpoint enabled: waiting deliveries are sent now." if enable else "Endpoint disabled.")
    return redirect("console:webhook", access.project.ref, endpoint_id)


@project_view
def endpoint_ping(request: HttpRequest, access: ProjectAccess, endpoint_id: str) -> HttpResponse:
    services.ping(request.user, access.project.ref, endpoint_id)
    messages.success(request, "Test event queued: it appears in the deliveries below.")
    return redirect("console:webhook", access.project.ref, endpoint_id)


@project_view
def endpoint_delete(request: HttpRequest, access: ProjectAccess, endpoint_id: str) -> HttpResponse:
    services.delete_endpoint(request.user, access.project.ref, endpoint_id)
    messages.success(request, "Endpoint deleted.")
    return redirect("console:webhooks", access.project.ref)


@project_view
def redeliver(request: HttpRequest, access: ProjectAccess, delivery_id: str) -> HttpResponse:
    item = services.redeliver(request.user, access.project.ref, delivery_id)
    messages.success(request, f"Delivery {item.id} queued again with the same webhook-id.")
    return redirect("console:webhook_delivery", access.project.ref, delivery_id)
