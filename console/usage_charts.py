"""Geometry for the usage page's server-rendered SVG charts (no script, no inline style: CSP-safe)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

# The requests chart's viewBox; the SVG scales to the card's width.
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 30


def nice_ceiling(value: float) -> int:
    """The smallest 1/2/5 × 10ⁿ at or above value, so axis ticks are round numbers."""
    if value <= 4:
        return 4
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return int(math.ceil(step * exponent))
    return int(10 * exponent)


def human_count(value: int) -> str:
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if value >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(value)


def human_bytes(value: int) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    size, unit = float(value), 0
    while size >= 1024 and unit < len(units) - 1:
        size, unit = size / 1024, unit + 1
    return f"{int(size)} {units[unit]}" if unit == 0 else f"{size:.1f} {units[unit]}"


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    today: bool


def requests_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars per day with a y axis of 4 round ticks and a date label about once a week."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((d["requests"] for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    gap = max(1.0, slot * 0.22)
    bars, labels = [], []
    for n, d in enumerate(days):
        day = date.fromisoformat(d["day"])
        height = plot_h * d["requests"] / top if top else 0
        if d["requests"] and height < 1.5:
            height = 1.5  # a day with traffic never looks empty
        x = LEFT + n * slot + gap / 2
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(TOP + plot_h - height, 2),
                width=round(slot - gap, 2),
                height=round(height, 2),
                label=f"{day:%b} {day.day}",
                value=d["requests"],
                today=n == len(days) - 1,
            )
        )
        if (len(days) - 1 - n) % 7 == 0:
            labels.append({"x": round(x + (slot - gap) / 2, 2), "text": f"{day:%b} {day.day}"})
    ticks = [{"y": round(TOP + plot_h - plot_h * i / 4, 2), "text": human_count(top * i // 4)} for i in range(0, 5)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "label_y": HEIGHT - 10,
        "bars": bars,
        "ticks": ticks,
        "labels": labels,
    }


def share_rows(collections: list[dict[str, Any]], metric: str, fmt) -> list[dict[str, Any]]:
    """One row per collection with its share of the largest, as a 0–100 bar length."""
    largest = max((c[metric] for c in collections), default=0)
    rows = []
    for c in sorted(collections, key=lambda c: (-c[metric], c["name"])):
        length = 100 * c[metric] / largest if largest else 0
        rows.append({"name": c["name"], "value": c[metric], "text": fmt(c[metric]), "length": round(length, 2)})
    return rows


def _short_day(entry: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(entry["day"])
    return {**entry, "label": f"{day:%b} {day.day}"}


def usage_page(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the usage template draws, from the usage service's report."""
    days = report["days"]
    today = days[-1] if days else {"requests": 0}
    busiest = max(days, key=lambda d: d["requests"]) if days else None
    return {
        "chart": requests_chart(days),
        "requests_total": f"{report['totals']['requests']:,}",
        "requests_today": f"{today['requests']:,}",
        "busiest": _short_day(busiest) if busiest and busiest["requests"] else None,
        "measured": report["sizes_measured_at"][11:16] + " UTC",
        "sizes_stored": report["sizes_measured_at"] != report["measured_at"],
        "sizes_day": report["sizes_measured_at"][:10],
        "documents_total": f"{report['totals']['documents']:,}",
        "storage_total": human_bytes(report["totals"]["storage_bytes"]),
        "pushes_total": f"{report['totals']['pushes']:,}",
        "documents_rows": share_rows(report["collections"], "documents", human_count),
        "storage_rows": share_rows(report["collections"], "storage_bytes", human_bytes),
        "days": list(reversed(days)),
        "report": report,
    }
