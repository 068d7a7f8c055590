"""Failed-login throttling per account and per client address, in the shared cache.

The bucket key is built from the project and the normalised identity or address, never from
the URL, so trailing slashes, letter case, method overrides and batch sub-requests all land in
the same bucket.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from basalt.core.addresses import client_address  # noqa: F401  (the identity faces import it from here)
from basalt.core.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    count: int
    window: int


def account_limit() -> Limit:
    return Limit(
        getattr(settings, "IDENTITY_LOGIN_FAILURES_PER_ACCOUNT", 10),
        getattr(settings, "IDENTITY_LOGIN_FAILURE_WINDOW", 900),
    )


def address_limit() -> Limit:
    return Limit(
        getattr(settings, "IDENTITY_LOGIN_FAILURES_PER_ADDRESS", 50),
        getattr(settings, "IDENTITY_LOGIN_FAILURE_WINDOW", 900),
    )


def _key(kind: str, project_id: int, value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"basalt:identity:fail:{kind}:{project_id}:{digest}"


def _hit(
    kind: str, project_id: int, value: str, limit: Limit, message: str = "Too many sign-in attempts; retry later."
) -> None:
    """Count an attempt atomically (cache incr) and refuse it once the window's budget is spent."""
    key = _key(kind, project_id, value)
    now = time.time()
    cache.add(key + ":end", now + limit.window, timeout=limit.window)
    for _ in range(3):
        cache.add(key, 0, timeout=limit.window)
        try:
            count = cache.incr(key)
            break
        except ValueError:  # expired between add and incr
            continue
    else:
        count = 1
    if count > limit.count:
        end = cache.get(key + ":end") or (now + limit.window)
        raise RateLimited(int(end - now) + 1, message)


hit = _hit  # for other identity modules (second factors)


def _pair(identity: str, address: str) -> str:
    return f"{address}\x00{identity}"


def attempt(project_id: int, identity: str, address: str) -> None:
    """Count a sign-in attempt against the account and the address; 429 past either budget.

    The account's bucket is per address too: a guesser elsewhere must never lock the owner out.
    """
    _hit("acct", project_id, _pair(identity, address), account_limit())
    _hit("addr", project_id, address, address_limit())


def succeeded(project_id: int, identity: str, address: str) -> None:
    """A correct password clears the account's count and gives the address its attempt back."""
    key = _key("acct", project_id, _pair(identity, address))
    cache.delete_many([key, key + ":end"])
    try:
        cache.decr(_key("addr", project_id, address))
    except ValueError:
        pass


def account_creation(project_id: int, address: str) -> None:
    """Sign-ups and anonymous sign-ins per client address per hour: accounts are not free to mint."""
    limit = Limit(getattr(settings, "IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR", 30), 3600)
    _hit("new", project_id, address, limit)


def allow_reset_email(project_id: int, email: str) -> bool:
    """At most a few reset/verify emails per address per hour: the inbox is not a free mailer."""
    key = _key("mail", project_id, email)
    limit = Limit(getattr(settings, "IDENTITY_EMAILS_PER_ADDRESS_PER_HOUR", 5), 3600)
    cache.add(key, 0, timeout=limit.window)
    try:
        return cache.incr(key) <= limit.count
    except ValueError:
        return True
