"""Request logs (data-API requests of the project, newest first, with a latency/error chart) and
the Outbox (mails Basalt recorded for the project when no mail server is configured)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.db.models.functions import Mod
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import urlencode

from basalt.core.errors import ValidationFailed
from basalt.logs import buffer
from basalt.logs import outbox as mail_outbox
from basalt.logs.queries import RANGES, ROUTES, filtered_lines
from basalt.projects.roles import Perm
from basalt.projects.services import access_project, change_project_settings
from console.mail_notice import mail_folder
from console.usage_charts import nice_ceiling
from console.views.common import ProjectAccess, page, project_context, project_view

PAGE = 100
BUCKETS = 24
SAMPLE = 2_000  # latency percentiles from about this many evenly spread lines
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 200, 64, 48, 12, 26


def _chart(rows, now: datetime, since: timedelta) -> dict[str, Any]:
    """Per interval: p50/p95 latency as lines, error share (4xx+5xx) as bars; server-rendered SVG.

    Counts and errors are exact (one aggregate query); latency percentiles come from an even
    sample of at most ~2,000 lines (every k-th id), so the page stays fast on a full table."""
    start = now - since
    width = since / BUCKETS
    edges = [start + width * i for i in range(BUCKETS + 1)]
    aggregates: dict[str, Any] = {}
    for i in range(BUCKETS):
        inside = Q(at__gte=edges[i], at__lt=edges[i + 1]) if i < BUCKETS - 1 else Q(at__gte=edges[i])
        aggregates[f"n{i}"] = Count("id", filter=inside)
        aggregates[f"e{i}"] = Count("id", filter=inside & Q(status__gte=400))
    counted = rows.aggregate(**aggregates)
    total = sum(counted[f"n{i}"] for i in range(BUCKETS))
    every = max(1, total // SAMPLE)
    sample = rows.annotate(pick=Mod("id", every)).filter(pick=0) if every > 1 else rows
    lines = list(sample.values_list("at", "latency_ms")[: SAMPLE * 2])
    latencies: list[list[float]] = [[] for _ in range(BUCKETS)]
    for at, ms in lines:
        latencies[min(BUCKETS - 1, max(0, int((at - start) / width)))].append(ms)
    stats = []
    for i in range(BUCKETS):
        times = sorted(latencies[i])
        n = counted[f"n{i}"]
        stats.append(
            {
                "n": n,
                "p50": times[len(times) // 2] if times else 0.0,
                "p95": times[min(len(times) - 1, int(len(times) * 0.95))] if times else 0.0,
                "error_rate": counted[f"e{i}"] / n if n else 0.0,
                "from": edges[i],
            }
        )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((s["p95"] for s in stats), default=0))
    slot = plot_w / BUCKETS

    def y(ms: float) -> float:
        return round(TOP + plot_h - plot_h * ms / top, 2)

    points50 = " ".join(f"{round(LEFT + slot * (i + 0.5), 2)},{y(s['p50'])}" for i, s in enumerate(stats) if s["n"])
    points95 = " ".join(f"{round(LEFT + slot * (i + 0.5), 2)},{y(s['p95'])}" for i, s in enumerate(stats) if s["n"])
    # Dots as well as lines: a single busy interval still shows its latency.
    dots = [
        {"x": round(LEFT + slot * (i + 0.5), 2), "y50": y(s["p50"]), "y95": y(s["p95"])}
        for i, s in enumerate(stats)
        if s["n"]
    ]
    bars = [
        {
            "x": round(LEFT + slot * i + 2, 2),
            "y": round(TOP + plot_h - plot_h * s["error_rate"], 2),
            "width": round(slot - 4, 2),
            "height": round(plot_h * s["error_rate"], 2),
            "title": f"{s['from']:%b %d %H:%M} UTC: {s['n']} requests, {round(100 * s['error_rate'])}% errors, "
            f"p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms",
            "n": s["n"],
        }
        for i, s in enumerate(stats)
    ]
    ticks = [
        {"y": round(TOP + plot_h - plot_h * i / 4, 2), "ms": f"{top * i / 4:g} ms", "pct": f"{25 * i}%"}
        for i in range(5)
    ]
    errors = sum(counted[f"e{i}"] for i in range(BUCKETS))
    all_ms = sorted(ms for _, ms in lines)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "p50": points50,
        "p95": points95,
        "bars": bars,
        "dots": dots,
        "ticks": ticks,
        "total": total,
        "error_pct": round(100 * errors / total, 1) if total else 0,
        "p95_all": f"{all_ms[min(len(all_ms) - 1, int(len(all_ms) * 0.95))]:.1f}" if all_ms else "–",
        "sampled": every > 1,
        "label_from": f"{(now - since):%b %d %H:%M}",
        "label_to": f"{now:%b %d %H:%M}",
        "label_y": HEIGHT - 8,
    }


@project_view
def logs(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    buffer.flush()  # show this process's latest lines too (the console's request, not the API's)
    rows, now, since = filtered_lines(project, request.GET)
    before = request.GET.get("before") or ""
    listed = rows.filter(id__lt=int(before)) if before.isascii() and before.isdigit() else rows
    entries = list(listed.order_by("-id")[: PAGE + 1])
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    keep = [(k, v) for k, v in request.GET.items() if k != "before"]
    context = project_context(
        access,
        "logs",
        entries=entries,
        chart=_chart(rows, now, since),
        older_href=("?" + urlencode([*keep, ("before", str(entries[-1].id))])) if more else None,
        newest_href=("?" + urlencode(keep)) if before else None,
        routes=ROUTES,
        ranges=list(RANGES),
        f={k: request.GET.get(k, "") for k in ("status", "route", "user", "rid")},
        current_range=request.GET.get("range") if request.GET.get("range") in RANGES else "24h",
        retention=buffer.retention_days(project),
    )
    return page(request, "console/logs/logs.html", context)


@project_view
def logs_retention(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """Keep this project's request logs for 1–90 days (admins and owners)."""
    project = access_project(request.user, access.project.ref, Perm.MANAGE_SETTINGS)
    raw = (request.POST.get("retention_days") or "").strip()
    try:
        # The same settings service as the management API's PATCH …/settings (it checks the role again).
        change_project_settings(
            request.user,
            project.ref,
            {"logs": {"retention_days": int(raw) if raw.isascii() and raw.isdigit() else raw}},
        )
    except ValidationFailed:
        messages.error(request, "Retention must be a whole number of days from 1 to 90.")
        return redirect("console:logs", project.ref)
    buffer.trim([project.pk])
    messages.success(request, f"Request logs are kept for {int(raw)} days.")
    return redirect("console:logs", project.ref)


@project_view
def outbox(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    mails = mail_outbox.project_mails(request.user, access.project.ref)
    context = project_context(access, "outbox", mails=mails, mail_folder=mail_folder())
    return page(request, "console/logs/outbox.html", context)
