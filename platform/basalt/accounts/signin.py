"""Console sign-in by password, for the API and the console's form alike, with failure throttling.

Failures are counted per (client address, email) and per client address, never per email alone:
a guesser locks out their own address, while the owner signs in from anywhere else.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.core.cache import cache
from django.http import HttpRequest

from basalt.accounts.models import Account
from basalt.core.addresses import client_address
from basalt.core.errors import InvalidCredentials, RateLimited

WINDOW_SECONDS = 15 * 60
BAD_CREDENTIALS = "That email and password do not match an account."
LOCKED = "Too many failed attempts. Wait 15 minutes, then try again."


def _buckets(email: str, address: str) -> list[tuple[str, int]]:
    def key(kind: str, value: str) -> str:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"basalt:console:signin:{kind}:{digest}"

    return [
        (
            key("pair", f"{address}\x00{email.strip().lower()}"),
            settings.CONSOLE_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS,
        ),
        (key("addr", address), settings.CONSOLE_SIGNIN_FAILURES_PER_ADDRESS),
    ]


def _refuse_if_locked(buckets: list[tuple[str, int]]) -> None:
    counts = cache.get_many([key for key, _ in buckets])
    for key, limit in buckets:
        if (counts.get(key) or 0) >= limit:
            ends = cache.get(key + ":end") or (time.time() + WINDOW_SECONDS)
            raise RateLimited(max(1, int(ends - time.time()) + 1), LOCKED)


def _record_failure(buckets: list[tuple[str, int]]) -> None:
    for key, _limit in buckets:
        # add() opens the window at the first failure; later failures never extend it.
        if cache.add(key, 1, WINDOW_SECONDS):
            cache.set(key + ":end", time.time() + WINDOW_SECONDS, WINDOW_SECONDS)
            continue
        try:
            cache.incr(key)
        except ValueError:  # the window closed between add() and incr()
            cache.add(key, 1, WINDOW_SECONDS)


def authenticate(request: HttpRequest, email: str, password: str) -> Account:
    """The active account these credentials prove, or 401 `invalid_credentials` / 429 `rate_limited`.

    Unknown email and wrong password fail alike (Django's backend hashes either way).
    """
    buckets = _buckets(email, client_address(request) or "unknown")
    _refuse_if_locked(buckets)
    account = django_authenticate(request, username=email, password=password)
    if account is None:
        _record_failure(buckets)
        raise InvalidCredentials(BAD_CREDENTIALS)
    # The right password from this address forgives this address's failures for this account.
    cache.delete_many([buckets[0][0], buckets[0][0] + ":end"])
    return account
