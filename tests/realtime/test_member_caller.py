"""The console stream's caller comes from one projects service: a member acts as the secret key under
a key id naming the account; anyone else is refused as the console refuses them."""

from __future__ import annotations

import pytest

from basalt.core.errors import NotFound
from basalt.projects.services import member_caller

pytestmark = pytest.mark.django_db


def test_a_member_acts_as_the_secret_key_under_their_account(make_account, make_project):
    owner = make_account()
    keys = make_project("Mine", owner=owner)
    caller = member_caller(owner, keys.project.ref)
    assert caller.is_secret and caller.key_id == f"console:{owner.pk}"
    assert caller.project.pk == keys.project.pk


@pytest.mark.parametrize("ref", ["", "x" * 33, "nosuchproject", None, ["list"]])
def test_a_stranger_or_a_bad_ref_is_not_found(make_account, make_project, ref):
    make_project("Theirs")
    stranger = make_account()
    with pytest.raises(NotFound):
        member_caller(stranger, ref)


def test_another_accounts_project_is_not_found(make_account, make_project):
    keys = make_project("Theirs", owner=make_account())
    with pytest.raises(NotFound):
        member_caller(make_account(), keys.project.ref)


def test_the_stream_recheck_goes_through_the_service(make_account, make_project):
    """A console identity whose session is gone is refused; with a live session it is the member."""
    from django.contrib.sessions.backends.db import SessionStore

    from basalt.core.errors import InvalidApiKey
    from basalt.realtime import console_stream

    owner = make_account()
    keys = make_project("Mine", owner=owner)
    session = SessionStore()
    session.create()
    identity = f"console:{owner.pk}:{keys.project.ref}:{session.session_key}"
    caller = console_stream.recheck(identity)
    assert not isinstance(caller, Exception) and caller.key_id == f"console:{owner.pk}"
    session.delete()
    assert isinstance(console_stream.recheck(identity), InvalidApiKey)
    stranger = f"console:{make_account().pk}:{keys.project.ref}:{session.session_key}"
    assert isinstance(console_stream.recheck(stranger), InvalidApiKey)
