"""Report insecure deployment settings (SECURITY.md T20); exit non-zero when any error is found."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.management.base import BaseCommand

# Below these an Argon2id hash is cheaper than OWASP's minimum (19 MiB, 2 passes).
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_TIME_COST = 2
MIN_SECRET_LENGTH = 32
MIN_SECRET_UNIQUE_CHARS = 5


@dataclass(frozen=True)
class Finding:
    """One insecure setting: `error` blocks a production start, `warning` asks for a decision."""

    level: str
    check: str
    message: str


def weak_secret(value: object) -> str | None:
    """Say why a signing secret is unsafe, or None when it is acceptable."""
    if not isinstance(value, str) or not value:
        return "is missing"
    known = set(getattr(settings, "INSECURE_SECRET_KEYS", ()))
    if value in known or value.lower().startswith(("django-insecure", "change", "replace")):
        return "is a known default value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_SECRET_UNIQUE_CHARS:
        return "is not random (too few distinct characters)"
    return None


def _core_findings() -> list[Finding]:
    found = []
    if settings.DEBUG:
        found.append(Finding("error", "debug", "DEBUG is on: error pages leak settings and code; set DEBUG=false."))
    reason = weak_secret(settings.SECRET_KEY)
    if reason:
        found.append(
            Finding("error", "secret_key", f"SECRET_KEY {reason}; generate one with secrets.token_urlsafe(50).")
        )
    jwt_key = settings.SIMPLE_JWT.get("SIGNING_KEY")
    reason = weak_secret(jwt_key)
    if reason:
        found.append(
            Finding("error", "console_jwt_key", f"the console JWT signing key {reason}: tokens can be forged.")
        )
    hosts = list(settings.ALLOWED_HOSTS)
    if not hosts:
        found.append(Finding("error", "allowed_hosts", "ALLOWED_HOSTS is empty; list the host names clients use."))
    elif "*" in hosts:
        found.append(
            Finding("error", "allowed_hosts", "ALLOWED_HOSTS contains '*': Host header poisoning of emails and links.")
        )
    return found


def _production_findings() -> list[Finding]:
    found = []
    if not settings.SESSION_COOKIE_SECURE or not settings.CSRF_COOKIE_SECURE:
        found.append(Finding("error", "secure_cookies", "cookies may travel over plain HTTP; set SECURE_COOKIES=true."))
    if settings.SECURE_PROXY_SSL_HEADER and settings.SECURE_HSTS_SECONDS <= 0:
        found.append(
            Finding("error", "hsts", "served behind TLS without HSTS; set SECURE_HSTS_SECONDS (e.g. 31536000).")
        )
    if settings.SECURE_PROXY_SSL_HEADER and settings.REST_FRAMEWORK.get("NUM_PROXIES", 0) == 0:
        found.append(
            Finding(
                "warning",
                "proxies",
                "behind a proxy with TRUSTED_PROXY_COUNT=0: every client shares the proxy's throttle bucket.",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        found.append(Finding("warning", "database", "production profile on SQLite: set DATABASE_URL to PostgreSQL."))
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        found.append(
            Finding("warning", "celery_eager", "background tasks run inside requests; set REDIS_URL and run a worker.")
        )
    insecure_origins = [o for o in settings.CSRF_TRUSTED_ORIGINS if o.startswith("http://")]
    if insecure_origins:
        found.append(
            Finding(
                "warning",
                "csrf_origins",
                f"CSRF_TRUSTED_ORIGINS has plain-HTTP origins: {', '.join(insecure_origins)}.",
            )
        )
    return found


def _policy_findings() -> list[Finding]:
    found = []
    if settings.CONSOLE_SIGNUP_OPEN and not settings.CONSOLE_SIGNUP_REQUIRES_CONFIRMATION:
        found.append(
            Finding(
                "warning",
                "signup",
                "anyone may create a console account without confirming an email; set CONSOLE_SIGNUP_OPEN=false "
                "or CONSOLE_SIGNUP_REQUIRES_CONFIRMATION=true.",
            )
        )
    if settings.ARGON2_MEMORY_COST_KIB < ARGON2_MIN_MEMORY_KIB or settings.ARGON2_TIME_COST < ARGON2_MIN_TIME_COST:
        found.append(Finding("warning", "argon2", "Argon2 cost is below OWASP's minimum (19 MiB memory, 2 passes)."))
    return found


def findings() -> list[Finding]:
    """Every insecure setting of the running configuration, errors first."""
    found = _core_findings() + _policy_findings()
    if settings.PRODUCTION:
        found += _production_findings()
    else:
        found.append(
            Finding(
                "warning",
                "profile",
                "embedded profile: meant for one machine on loopback; use BASALT_PROFILE=production to expose it "
                "(cookie and TLS checks apply there).",
            )
        )
    return sorted(found, key=lambda f: (f.level != "error", f.check))


class Command(BaseCommand):
    help = "Check the running settings for insecure production choices; exit 1 if any error is found."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print findings as JSON")
        parser.add_argument("--fail-on-warning", action="store_true", help="exit 1 on warnings too")

    def handle(self, *args, as_json: bool = False, fail_on_warning: bool = False, **options):
        found = findings()
        errors = sum(f.level == "error" for f in found)
        warnings = len(found) - errors
        if as_json:
            self.stdout.write(json.dumps([asdict(f) for f in found], indent=2))
        else:
            for f in found:
                style = self.style.ERROR if f.level == "error" else self.style.WARNING
                self.stdout.write(style(f"{f.level.upper():8}{f.check}: {f.message}"))
            self.stdout.write(f"security_check ({settings.PROFILE}): {errors} error(s), {warnings} warning(s)")
        if errors or (fail_on_warning and warnings):
            raise SystemExit(1)
