"""Console usage page: server-drawn charts of requests per day and sizes per collection."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from basalt.documents import catalog
from console.usage_charts import human_bytes, nice_ceiling, requests_chart

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/console/p/{project.project.ref}/usage"


@pytest.fixture
def traffic(project):
    catalog.create_collection(
        project.project,
        {"name": "recipes", "fields": {"title": {"type": "string"}}, "permissions": {"get": ["*"], "find": ["*"]}},
    )
    catalog.create_collection(project.project, {"name": "empty_box"})
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    for n in range(3):
        client.post("/api/v1/collections/recipes/documents", {"title": f"r{n}" * 100}, format="json")
    for _ in range(4):
        client.get("/api/v1/collections/recipes/documents")
    return project


@pytest.mark.parametrize("role", ["viewer", "developer", "admin", "owner"])
def test_every_role_sees_todays_requests_and_collection_sizes(traffic, member_client, owner_client, role):
    client = owner_client if role == "owner" else member_client(role)
    response = client.get(url(traffic))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="requests-today">7<', html)
    assert re.search(r'id="documents-total">3<', html)
    # One bar per day for 30 days; today's bar is marked and titled with its count.
    assert html.count('<rect class="bar') == 30
    assert re.search(r'class="bar bar-today"[^>]*><title>[A-Z][a-z]{2} \d+: 7 requests</title>', html)
    assert "recipes" in html and "empty_box" in html


def test_the_page_has_no_inline_styles_or_scripts(traffic, owner_client):
    """The strict CSP refuses style attributes and inline scripts, so the charts must not use them."""
    response = owner_client.get(url(traffic))
    html = response.content.decode()
    assert "style=" not in html
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_another_accounts_project_is_a_404_page(traffic, browser_for, make_account):
    response = browser_for(make_account()).get(url(traffic))
    assert response.status_code == 404
    assert traffic.project.name.encode() not in response.content


def test_anonymous_visitors_are_sent_to_sign_in(traffic, client):
    response = client.get(url(traffic))
    assert response.status_code == 302 and "/console/signin" in response["Location"]


def test_chart_axis_uses_round_numbers_and_bars_fit_the_plot():
    assert [nice_ceiling(v) for v in (0, 3, 7, 11, 99, 101, 2400)] == [4, 4, 10, 20, 100, 200, 2500]
    days = [{"day": f"2026-11-{d:02d}", "requests": d * 10} for d in range(1, 31)]
    chart = requests_chart(days)
    assert [t["text"] for t in chart["ticks"]] == ["0", "125", "250", "375", "500"]
    assert all(chart["left"] <= b.x and b.x + b.width <= chart["right"] for b in chart["bars"])
    assert all(0 < b.height and b.y + b.height == pytest.approx(chart["baseline"]) for b in chart["bars"])
    assert chart["bars"][-1].today and chart["labels"][-1]["text"] == "Nov 30"
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KB" and human_bytes(5 * 1024**3) == "5.0 GB"


def test_a_day_with_few_requests_still_shows_a_bar():
    days = [{"day": "2026-11-01", "requests": 100000}, {"day": "2026-11-02", "requests": 1}]
    assert requests_chart(days)["bars"][1].height >= 1.5
