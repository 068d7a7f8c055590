"""Management-API faces of webhooks (API.md §11): parse, call one service, render."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.documents.store import format_time
from basalt.hooks import services
from basalt.hooks.models import Attempt, Delivery, Endpoint


def _time(value) -> str | None:
    return format_time(value) if value is not None else None


def endpoint_out(endpoint: Endpoint, secret: str | None = None) -> dict[str, Any]:
    out = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "collections": endpoint.collections,
        "where": endpoint.where,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason or None,
        "disabled_at": _time(endpoint.disabled_at),
        "failing_since": _time(endpoint.failing_since),
        "created_at": _time(endpoint.created_at),
        "updated_at": _time(endpoint.updated_at),
    }
    if secret is not None:
        out["secret"] = secret  # shown in the create response only
    return out


def attempt_out(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response": attempt.response,
        "error": attempt.error or None,
        "at": _time(attempt.at),
    }


def delivery_out(delivery: Delivery, last: Attempt | None = None, attempts: list[Attempt] | None = None) -> dict:
    out = {
        "id": delivery.id,
        "endpoint": delivery.endpoint_id,
        "event": delivery.event,
        "seq": delivery.seq,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _time(delivery.next_attempt_at) if delivery.status == Delivery.PENDING else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error or None,
        "created_at": _time(delivery.created_at),
        "finished_at": _time(delivery.finished_at),
    }
    if last is not None:
        out["last_attempt"] = attempt_out(last)
    if attempts is not None:
        out["payload"] = delivery.payload
        out["attempt_log"] = [attempt_out(a) for a in attempts]
    return out


class EndpointListView(APIView):
    def get(self, request, ref):
        return Response({"results": [endpoint_out(e) for e in services.list_endpoints(request.user, ref)]})

    def post(self, request, ref):
        new = services.create_endpoint(request.user, ref, request.data)
        return Response(endpoint_out(new.endpoint, new.secret), status=201)


class EndpointView(APIView):
    def get(self, request, ref, endpoint_id):
        return Response(endpoint_out(services.get_endpoint(request.user, ref, endpoint_id)))

    def patch(self, request, ref, endpoint_id):
        return Response(endpoint_out(services.update_endpoint(request.user, ref, endpoint_id, request.data)))

    def delete(self, request, ref, endpoint_id):
        services.delete_endpoint(request.user, ref, endpoint_id)
        return Response(status=204)


class DeliveryListView(APIView):
    def get(self, request, ref, endpoint_id):
        page = services.list_deliveries(request.user, ref, endpoint_id, request.query_params)
        return Response({"results": [delivery_out(d, last) for d, last in page["results"]], "next": page["next"]})


class DeliveryView(APIView):
    def get(self, request, ref, delivery_id):
        delivery = services.get_delivery(request.user, ref, delivery_id)
        return Response(delivery_out(delivery, attempts=services.delivery_attempts(delivery)))


class RedeliverView(APIView):
    def post(self, request, ref, delivery_id):
        return Response(delivery_out(services.redeliver(request.user, ref, delivery_id)), status=202)


class PingView(APIView):
    def post(self, request, ref, endpoint_id):
        return Response(delivery_out(services.ping(request.user, ref, endpoint_id)), status=202)
