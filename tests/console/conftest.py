"""Console fixtures: session-signed-in browsers (Django's test Client) per project role."""

from __future__ import annotations

import pytest
from django.test import Client

from basalt.projects import services

PASSWORD = "correct horse battery"


@pytest.fixture
def browser_for(make_account):
    """A Client signed in with a session as `account` (new account when omitted)."""

    def make(account=None) -> Client:
        client = Client()
        client.account = account or make_account()
        client.force_login(client.account, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def owner_client(browser_for, project):
    return browser_for(project.owner)


@pytest.fixture
def member_client(browser_for, make_account, project):
    """A signed-in member of `project` with the given role."""

    def make(role: str) -> Client:
        account = make_account()
        services.join_project(project.project, account, role)
        return browser_for(account)

    return make


@pytest.fixture
def as_role(owner_client, member_client):
    """A signed-in client of `project` with the given role (the owner's own client for "owner")."""

    def make(role: str) -> Client:
        return owner_client if role == "owner" else member_client(role)

    return make
