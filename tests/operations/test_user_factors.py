"""Second factors travel in archives: a restored or cloned project still asks for them (user_factors)."""

from __future__ import annotations

import io
import time

import pyotp
import pytest

from tests.operations.conftest import PASSWORD, key_client, seed_project, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "ada@example.com"


def _login(keys):
    body = {"email": EMAIL, "password": PASSWORD}
    return key_client(keys.publishable).post("/api/v1/auth/login", body, format="json")


def _next_code(totp: pyotp.TOTP) -> str:
    # The step used at enrolment is spent (replay protection travels with the factor): the next one.
    return totp.at(time.time() + 30)


def _verify(keys, code: str):
    answer = _login(keys)
    assert answer.status_code == 401, answer.content
    error = answer.json()["error"]
    assert error["code"] == "mfa_required"
    return key_client(keys.publishable).post(
        "/api/v1/auth/mfa/verify", {"mfa_token": error["details"]["mfa_token"], "code": code}, format="json"
    )


def _with_factors(make_project):
    """A project whose ada has TOTP (with recovery codes) and a passkey."""
    from basalt.identity.models import Passkey

    source = make_project("With factors")
    seeded = seed_project(source, n_posts=2)
    ada = key_client(source.publishable, sign_in(source.publishable, EMAIL))
    started = ada.post("/api/v1/auth/mfa/totp/enroll").json()
    totp = pyotp.TOTP(started["secret"])
    codes = ada.post("/api/v1/auth/mfa/totp/confirm", {"code": totp.now()}, format="json").json()["recovery_codes"]
    Passkey.objects.create(
        project=source.project, user_id=seeded.users[EMAIL], credential_id="Y3JlZC0x", public_key="pQECAyYgAS",
        sign_count=7, transports=["internal"],
    )  # fmt: skip
    sink = io.BytesIO()
    from basalt.operations import exporting

    exporting.export_project(source.project, sink)
    return source, totp, codes, sink.getvalue()


def _import(make_project, owner, data: bytes):
    from basalt.operations import importing

    target = make_project("Copy", owner=owner)
    importing.import_archive(target.project, lambda: io.BytesIO(data), new_ids=True)
    return target


def test_a_copy_asks_for_the_same_second_factor_and_keeps_the_passkey(make_project):
    from basalt.identity.models import EndUser, Passkey

    source, totp, codes, data = _with_factors(make_project)
    target = _import(make_project, source.owner, data)

    assert _verify(target, "000000").status_code == 401  # a wrong code is refused: the factor is there
    assert _verify(target, _next_code(totp)).status_code == 200
    assert _verify(target, codes[0]).status_code == 200  # a recovery code, once
    assert _verify(target, codes[0]).status_code == 401
    user = EndUser.objects.get(project=target.project, email=EMAIL)
    copied = Passkey.objects.get(project=target.project)
    assert (copied.user_id, copied.credential_id, copied.public_key, copied.sign_count, copied.transports) == (
        user.id, "Y3JlZC0x", "pQECAyYgAS", 7, ["internal"],
    )  # fmt: skip
    assert _login(source).status_code == 401  # the original still asks too


def test_the_archive_never_holds_the_totp_secret_in_clear(make_project):
    import gzip

    _, totp, _, data = _with_factors(make_project)
    assert totp.secret.encode() not in gzip.decompress(data)


def test_another_install_refuses_factors_it_cannot_open_unless_given_the_old_key(make_project, settings):
    from basalt.operations import importing
    from basalt.operations.archive import ArchiveRefused

    source, totp, _, data = _with_factors(make_project)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another install's key " + "k" * 40
    settings.SECRET_KEY_FALLBACKS = []
    target = make_project("Elsewhere", owner=source.owner)
    with pytest.raises(ArchiveRefused) as refused:
        importing.import_archive(target.project, lambda: io.BytesIO(data), new_ids=True)
    assert refused.value.payload()["error"]["details"]["reason"] == "mfa_unsealable"
    assert not any(importing.project_contents(target.project).values())  # nothing half-imported

    settings.SECRET_KEY_FALLBACKS = [old_key]
    importing.import_archive(target.project, lambda: io.BytesIO(data), new_ids=True)
    settings.SECRET_KEY_FALLBACKS = []  # resealed with this install's key: the old one is no longer needed
    assert _verify(target, _next_code(totp)).status_code == 200
