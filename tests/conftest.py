"""Fixtures shared by every area's tests: clients, console accounts, projects and keys."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from tests import dbleaks

IN_CI = os.environ.get("CI", "").lower() == "true"


def redis_db_below(url: str, offset: int) -> str:
    """The Redis URL `offset` databases below `url`'s (wrapping within Redis' 16)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - offset) % 16}"))


def body_of(response) -> bytes:
    """A response's bytes, streamed or not (small files and archives are answered whole)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def _worker_redis_url(url: str, worker: str) -> str:
    """Give each xdist worker its own Redis database: `cache.clear()` is FLUSHDB, and throttle
    counters of one worker must not leak into (or be wiped by) the other's tests."""
    return redis_db_below(url, int(worker.removeprefix("gw") or 0))


def private_redis_url() -> str:
    """This xdist worker's own Redis database, for a server or worker a test starts: the base
    database is another worker's cache, which that worker's `cache.clear()` (FLUSHDB) wipes."""
    return _worker_redis_url(os.environ["REDIS_URL"], os.environ.get("PYTEST_XDIST_WORKER", ""))


def pytest_configure(config):
    from django.conf import settings

    config.basalt_database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if config.basalt_database == "postgresql":
        dbleaks.record_checkouts()
    # No background request-log writer in tests (its own connection would race the test's
    # transaction); tests and the console's Request logs page flush the buffer explicitly.
    settings.REQUEST_LOG_FLUSH_SECONDS = 0
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if settings.REDIS_URL and worker:
        url = _worker_redis_url(settings.REDIS_URL, worker)
        settings.CACHES["default"]["LOCATION"] = url
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [url]


def pytest_report_header(config):
    from django.conf import settings

    return (
        f"basalt: database={settings.DATABASES['default']['ENGINE']} "
        f"channel_layer={settings.CHANNEL_LAYERS['default']['BACKEND']} "
        f"broker={settings.CELERY_BROKER_URL.split(':')[0]}"
    )


def pytest_sessionstart(session):
    """Under CI, a configured but unreachable PostgreSQL or Redis fails the run instead of skipping."""
    from django.conf import settings

    problems = []
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db.get("HOST") or "127.0.0.1",
                port=db.get("PORT") or 5432,
                user=db.get("USER"),
                password=db.get("PASSWORD") or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"PostgreSQL unreachable: {exc}")
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis unreachable: {exc}")
    if problems:
        pytest.exit("; ".join(problems), returncode=3)


def pytest_runtest_setup(item):
    dbleaks.entering(item.nodeid)


def pytest_runtest_teardown(item):
    # Before any fixture's teardown (so before pytest-django flushes the database): a transactional
    # test's writes may still be being numbered by the change log's settler thread, whose statements
    # and the flush's TRUNCATE of every table deadlocked (tests/push/test_change_log.py, 1,200 rows).
    from basalt.documents import changefeed

    changefeed.wait_settled(30)
    dbleaks.entering(f"{item.nodeid} (teardown)")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before the test database is dropped, fail if anything still holds a connection to it: PostgreSQL
    refuses to drop it then, and pytest-django only warns, leaving the database behind (tests/dbleaks.py)."""
    yield
    with django_db_blocker.unblock():
        problems = dbleaks.leaked_connections()
    if problems:
        pytest.fail(
            f"{len(problems)} connection(s) to the test database left open:\n\n" + "\n\n".join(problems.values()),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _cheap_argon2(settings):
    """Keep Argon2 (the real hasher) but at a test-sized cost so the suite stays fast."""
    settings.ARGON2_TIME_COST = 1
    settings.ARGON2_MEMORY_COST_KIB = 1024
    settings.ARGON2_PARALLELISM = 1


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from basalt.usage.counters import discard_buffered

    discard_buffered()
    cache.clear()
    yield
    discard_buffered()
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


_counter = iter(range(1, 10**9))


@pytest.fixture
def make_account(db):
    from basalt.accounts.models import Account

    def make(email: str | None = None, password: str = "correct horse battery"):
        email = email or f"dev{next(_counter)}@example.com"
        return Account.objects.create_user(email, password)

    return make


def console_client_for(account) -> APIClient:
    from basalt.accounts import sessions

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sessions.start(account).access}")
    return client


def chain_forbidden():
    """Make the middleware chain's innermost layer fail a request that reaches it: what must be
    answered on the hot path (documents.api.hot_routes) is, or the test fails."""
    from unittest import mock

    from basalt.operations.audit import AuditMiddleware

    return mock.patch.object(AuditMiddleware, "__call__", side_effect=AssertionError("went through the chain"))


def app_client(project, token: str | None = None) -> APIClient:
    """An app's client: the project's publishable key, and an end-user's access token if given."""
    client = APIClient()
    credentials = {"HTTP_X_API_KEY": project.publishable}
    if token:
        credentials["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.credentials(**credentials)
    return client


@pytest.fixture
def console(make_account):
    """A signed-in console account's client (the account is `console.account`)."""
    account = make_account()
    client = console_client_for(account)
    client.account = account
    return client


@dataclass
class ProjectKeys:
    project: object
    owner: object
    publishable: str
    secret: str


@pytest.fixture
def make_project(make_account):
    from basalt.projects import services

    def make(name: str = "Demo", owner=None) -> ProjectKeys:
        owner = owner or make_account()
        project = services.create_project(owner, name)
        return ProjectKeys(
            project=project,
            owner=owner,
            publishable=services.create_key(owner, project, "publishable").raw,
            secret=services.create_key(owner, project, "secret").raw,
        )

    return make


@pytest.fixture
def project(make_project) -> ProjectKeys:
    return make_project()


@pytest.fixture
def publishable_client(project):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.publishable)
    return client


@pytest.fixture
def secret_client(project):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    return client


@pytest.fixture
def eager_tasks():
    """Background tasks run inline, as without a broker; with REDIS_URL set (the PostgreSQL pass)
    they would otherwise go to a queue that no worker reads in these tests."""
    from basalt.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
