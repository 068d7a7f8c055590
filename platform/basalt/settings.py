"""Configure Basalt from environment variables for the embedded default or production profile."""

import re
import secrets
from pathlib import Path

import dj_database_url

from basalt.env import ConfigurationError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent
PROFILE = env_str("BASALT_PROFILE", "embedded")
if PROFILE not in {"embedded", "production"}:
    raise ConfigurationError(f"BASALT_PROFILE must be 'embedded' or 'production', got {PROFILE!r}")
PRODUCTION = PROFILE == "production"

DATA_DIR = Path(env_str("BASALT_DATA_DIR", "./data")).resolve()

INSECURE_SECRET_KEYS = {"", "change-me", "changeme", "secret", "django-insecure", "replace-me"}


def _embedded_secret_key() -> str:
    """Keep one generated secret per data folder so sessions and tokens survive restarts."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or ("" if PRODUCTION else _embedded_secret_key())
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])


def production_problems() -> list[str]:
    """List every unsafe production setting so the operator fixes them in one go."""
    problems = []
    if SECRET_KEY in INSECURE_SECRET_KEYS or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 32:
        problems.append("SECRET_KEY is missing, a known default, or shorter than 32 characters")
    if DEBUG:
        problems.append("DEBUG is on")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS is empty")
    return problems


if PRODUCTION and production_problems():
    raise ConfigurationError(
        "refusing to start in production: " + "; ".join(production_problems()) + " (see .env.example)"
    )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "djoser",
    "guardian",
    "channels",
    "corsheaders",
    "basalt.core",
    "basalt.accounts",
    "basalt.projects",
    "basalt.health",
    "basalt.documents",
    "basalt.identity",
    "basalt.usage",
    "basalt.realtime",
    "basalt.hooks",
    "basalt.operations",
    "basalt.files",
    "basalt.push",
    # Request logs of the data API and the mail outbox (console pages: Request logs, Outbox).
    "basalt.logs",
    "basalt.parse",
    "console",
]

MIDDLEWARE = [
    # The data API's hot routes past the layers below, with their effects (basalt.documents.api.hot_routes).
    "basalt.documents.api.hot_routes.HotRoutesMiddleware",
    # Request counts and latency for GET /metrics (basalt.operations.metrics): two in-memory updates.
    "basalt.operations.metrics.MetricsMiddleware",
    "basalt.core.middleware.RequestIdMiddleware",
    # Data-API request lines for the console's Request logs (basalt.logs): a deque append; a
    # background thread writes them in bulk, off the request path.
    "basalt.logs.buffer.RequestLogMiddleware",
    # Outside ApiErrorMiddleware, so error answers carry CORS headers too (basalt.projects.cors).
    "corsheaders.middleware.CorsMiddleware",
    "basalt.core.middleware.UrlLengthMiddleware",
    "basalt.core.middleware.ApiErrorMiddleware",
    "basalt.usage.middleware.RequestCounterMiddleware",
    # Idempotency-Key on data-API writes (basalt.operations.idempotency); inert without the header.
    "basalt.operations.idempotency.IdempotencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    # BROWSER_MIDDLEWARE, skipped on the key-authenticated routes (basalt.core.middleware).
    "basalt.core.middleware.BrowserOnlyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Audit log of management-API and console writes (basalt.operations.audit); after the view ran.
    "basalt.operations.audit.AuditMiddleware",
]

BROWSER_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "basalt.urls"
ASGI_APPLICATION = "basalt.asgi.application"
WSGI_APPLICATION = "basalt.wsgi.application"
# The API answers both with and without a trailing slash itself; redirects would drop POST bodies.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Health checks off by default: with the pool they cost a round trip (an empty statement) on
    # every checkout, a quarter of a signed-in GET's. The pool drops a connection that comes back
    # broken; after a PostgreSQL restart, idle ones fail once. DATABASE_HEALTH_CHECKS=true restores it.
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_health_checks=env_bool("DATABASE_HEALTH_CHECKS", False))
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "basalt.sqlite3"),
            "OPTIONS": {
                # WAL lets readers run beside the writer; IMMEDIATE makes writers queue instead of
                # failing with "database is locked" when two transactions upgrade at once.
                # synchronous=NORMAL under WAL: a crash of Basalt loses nothing, and the file stays
                # consistent through a power cut or OS crash, which may undo the last commits
                # (WAL is synced at checkpoints, not at each commit). FULL would sync every commit.
                # mmap and a 64 MiB page cache per connection keep reads off the read() syscall;
                # temporary b-trees (sorts without an index) stay in memory.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Kept open across requests: opening one per request (re-running the pragmas above
            # and registering the query engine's functions) cost more than the request itself.
            # Request threads are a fixed set under `serve` (basalt.core.handler), so this holds
            # one file handle per thread, not one per request.
            "CONN_MAX_AGE": None,
            # Tests use a file opened exactly as above, not Django's default shared-cache memory
            # database: there a second connection's write fails at once with "table is locked"
            # instead of waiting `timeout`, so concurrency tests saw errors production never gives.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
# Every server mode (serve/daphne, granian, the Celery worker) runs requests on threads that come
# and go; a persistent connection per thread outlived its thread and exhausted PostgreSQL's
# max_connections. So PostgreSQL is always reached through a bounded pool per process, and a
# connection goes back to it at the end of each request (CONN_MAX_AGE 0).
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10)
if DATABASE_POOL_SIZE < 1:
    raise ConfigurationError(f"DATABASE_POOL_SIZE must be at least 1, got {DATABASE_POOL_SIZE}")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Parameters bound by the server, and a statement prepared once it has run 5 times on a pooled
    # connection (psycopg's default threshold): the key lookup, a get, the writes then skip parsing
    # and, once PostgreSQL settles on a plan for any value, planning (finds are still planned for
    # their values: basalt.documents.query.engine). Behind a pooler in transaction mode that cannot
    # keep prepared statements (PgBouncer before 1.21), set DATABASE_PREPARED_STATEMENTS=false.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
# Threads that run Django code under ASGI (`serve`, daphne; basalt.core.handler). Two pool
# connections stay free for the in-process task worker and WebSocket consumers, so a request
# thread never waits on the pool.
REQUEST_THREADS = env_int("REQUEST_THREADS", max(1, DATABASE_POOL_SIZE - 2))
if REQUEST_THREADS < 1:
    raise ConfigurationError(f"REQUEST_THREADS must be at least 1, got {REQUEST_THREADS}")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: channel layer, cache, broker -----------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Realtime: messages queued for one client before it is closed as a slow consumer.
REALTIME_SEND_BUFFER = env_int("REALTIME_SEND_BUFFER", 1000)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or env_str("CELERY_BROKER_URL")))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Cached per-project request/push counters → UsageDay rows (basalt.usage).
    "usage-flush-counters": {"task": "usage.flush_counters", "schedule": 60.0},
    "usage-snapshot-sizes": {"task": "usage.snapshot_sizes", "schedule": 3600.0},
    # Expired one-time codes and long-ended sessions (basalt.identity.tasks).
    "identity-purge-expired": {"task": "identity.purge_expired", "schedule": 3600.0},
    "accounts-purge-console-sessions": {"task": "accounts.purge_console_sessions", "schedule": 3600.0},
    # Webhooks: catch up dispatches and retries that a lost task left behind (basalt.hooks).
    "hooks-sweep": {"task": "hooks.sweep", "schedule": 15.0},
    # Scheduled jobs whose fire has come, and runs that lost their worker (basalt.hooks.jobs).
    "hooks-run-due-jobs": {"task": "hooks.run_due_jobs", "schedule": 20.0},
    # Idempotency records older than 24 hours (basalt.operations).
    "operations-purge-idempotency": {"task": "operations.purge_idempotency", "schedule": 3600.0},
    "operations-purge-audit": {"task": "operations.purge_audit", "schedule": 86400.0},
    # Exports, imports and clones whose worker died: run again (basalt.operations.transfer_recovery).
    "operations-recover-transfers": {"task": "operations.recover_transfers", "schedule": 60.0},
    # Incomplete tus/direct/multipart uploads past their expiry; unreferenced files past the window.
    "files-expire-uploads": {"task": "files.expire_uploads", "schedule": 900.0},
    "files-sweep-orphans": {"task": "files.sweep_orphans", "schedule": 3600.0},
    # Request logs past each project's retention or row cap (basalt.logs).
    "logs-trim": {"task": "logs.trim", "schedule": 3600.0},
    # Scheduled pushes falling due, deliveries due for retry, crashed workers' leases (basalt.push).
    "push-tick": {"task": "push.tick", "schedule": float(env_int("PUSH_TICK_SECONDS", 5))},
}

# --- webhooks (basalt.hooks) -------------------------------------------------------------------
# Loopback/private/link-local targets are refused unless this is on (tests, a LAN-only install);
# cloud metadata addresses are refused always (SECURITY.md T11).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_TIMEOUT_SECONDS = float(env_int("WEBHOOK_TIMEOUT_SECONDS", 10))
WEBHOOK_CONCURRENCY = env_int("WEBHOOK_CONCURRENCY", 2)  # senders per endpoint at once
WEBHOOK_RETRY_BASE_SECONDS = float(env_int("WEBHOOK_RETRY_BASE_SECONDS", 5))
WEBHOOK_RETRY_WINDOW_SECONDS = env_int("WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 24 * 3600)
# Scheduled jobs: the shortest interval a cron expression may have (a `* * * * *` job is refused below 60).
JOBS_MIN_INTERVAL_SECONDS = env_int("JOBS_MIN_INTERVAL_SECONDS", 300)

# GET /metrics (Prometheus text) answers only `Authorization: Bearer <METRICS_TOKEN>`; unset: not served.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# Audit entries older than this are removed (daily).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)
# Project archives (export / import / clone): the largest upload accepted, and the bounds an
# import holds an archive to while unpacking it (decompression bombs): total bytes and ratio.
IMPORT_MAX_ARCHIVE_BYTES = env_int("IMPORT_MAX_ARCHIVE_BYTES", 10 * 1024**3)
IMPORT_MAX_UNPACKED_BYTES = env_int("IMPORT_MAX_UNPACKED_BYTES", 50 * 1024**3)
IMPORT_MAX_RATIO = env_int("IMPORT_MAX_RATIO", 200)
EXPORT_KEEP_MAX = env_int("EXPORT_KEEP_MAX", 30)

# --- request logs (basalt.logs) ----------------------------------------------------------------
REQUEST_LOG_FLUSH_SECONDS = float(env_int("REQUEST_LOG_FLUSH_SECONDS", 2))  # 0: only explicit flushes
REQUEST_LOG_RETENTION_DAYS = env_int("REQUEST_LOG_RETENTION_DAYS", 7)  # default; per project in settings
REQUEST_LOG_MAX_ROWS = env_int("REQUEST_LOG_MAX_ROWS", 100_000)  # per project, newest kept
REQUEST_LOG_BUFFER = env_int("REQUEST_LOG_BUFFER", 50_000)  # lines held between flushes per process

# --- files -----------------------------------------------------------------------------------
S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    DEFAULT_FILE_STORAGE_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "region_name": env_str("S3_REGION", "us-east-1"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": env_str("S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
        },
    }
else:
    DEFAULT_FILE_STORAGE_BACKEND = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files")},
    }
# Downloads answer a redirect to a short-lived presigned storage URL instead of passing bytes through.
FILES_REDIRECT_DOWNLOADS = env_bool("FILES_REDIRECT_DOWNLOADS", False)
# Local storage behind a front proxy: a download is answered with `X-Accel-Redirect: <this prefix>/<key>`
# after every check, and the proxy sends the file (docker/Caddyfile). Empty: Basalt sends the bytes.
FILES_ACCEL_REDIRECT = env_str("FILES_ACCEL_REDIRECT").rstrip("/")
if FILES_ACCEL_REDIRECT and not re.fullmatch(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+", FILES_ACCEL_REDIRECT):
    raise ConfigurationError(f"FILES_ACCEL_REDIRECT must be a path like /_basalt/files, got {FILES_ACCEL_REDIRECT!r}")
# Bytes of served thumbnails each web process keeps in memory (files/kept.py); 0 turns it off.
FILES_THUMBNAIL_MEMORY_BYTES = env_int("FILES_THUMBNAIL_MEMORY_BYTES", 16 * 1024 * 1024)
STORAGES = {
    "default": DEFAULT_FILE_STORAGE_BACKEND,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))

# --- accounts and auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Argon2 makes every hash; the bcrypt one only verifies users imported from Parse Server and is
# replaced by Argon2 at their first sign-in (basalt.operations.parse_import).
PASSWORD_HASHERS = [
    "basalt.accounts.hashers.TunedArgon2PasswordHasher",
    "basalt.accounts.hashers.ImportedBcryptPasswordHasher",
]
# Argon2id cost: OWASP's first recommended setting (19 MiB, 2 passes, 1 lane). Measured on the
# 2-core reference host: 27 ms per verify vs 276 ms for 64 MiB/3/2, i.e. ~35 sign-ins/s per core
# instead of ~4, so a login burst cannot starve the API. Raise it where cores are plentiful.
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2)
ARGON2_MEMORY_COST_KIB = env_int("ARGON2_MEMORY_COST_KIB", 19456)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous console user

CONSOLE_SIGNUP_OPEN = env_bool("CONSOLE_SIGNUP_OPEN", True)
CONSOLE_SIGNUP_REQUIRES_CONFIRMATION = env_bool("CONSOLE_SIGNUP_REQUIRES_CONFIRMATION", False)
# Projects one console account may own (0: no cap): open sign-up must not mean unbounded tenants.
CONSOLE_PROJECTS_PER_ACCOUNT = env_int("CONSOLE_PROJECTS_PER_ACCOUNT", 50)

from datetime import timedelta  # noqa: E402

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("CONSOLE_ACCESS_TOKEN_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("CONSOLE_REFRESH_TOKEN_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "account_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    # A console token must never pass for an end-user token of a project, and vice versa.
    "AUDIENCE": "basalt-console",
    "SIGNING_KEY": SECRET_KEY,
}

DJOSER = {
    "LOGIN_FIELD": "email",
    "USER_CREATE_PASSWORD_RETYPE": False,
    "SEND_ACTIVATION_EMAIL": CONSOLE_SIGNUP_REQUIRES_CONFIRMATION,
    "ACTIVATION_URL": "console/activate/{uid}/{token}",
    "PASSWORD_RESET_CONFIRM_URL": "console/password/reset/{uid}/{token}",
    "HIDE_USERS": True,
    "SERIALIZERS": {"user_create": "basalt.accounts.serializers.AccountCreateSerializer"},
    "PERMISSIONS": {"user_create": ["basalt.accounts.permissions.SignupOpen"]},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["basalt.accounts.authentication.ConsoleJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["basalt.core.json.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["basalt.core.json.OrjsonParser"],
    "EXCEPTION_HANDLER": "basalt.core.errors.drf_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "console_signin": env_str("CONSOLE_SIGNIN_RATE", "10/min"),
        "console_signup": env_str("CONSOLE_SIGNUP_RATE", "20/hour"),
    },
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0),
}

# --- CORS: each project's `cors_origins` on the data API (basalt.projects.cors decides) --------
# ... and the Parse face (/parse/), whose browser SDK calls it from the app's own origin.
CORS_URLS_REGEX = r"^/(?:api/v1/(?!manage/)|parse/)"
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "x-request-id",
    "if-match",
    "if-none-match",
    "idempotency-key",
    # tus resumable uploads (basalt.files.tus) and ranged downloads
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-metadata",
    "upload-checksum",
    "upload-defer-length",
    "range",
    "if-range",
    # the Parse face's header credentials (basalt.parse.request)
    "x-parse-application-id",
    "x-parse-rest-api-key",
    "x-parse-javascript-key",
    "x-parse-client-key",
    "x-parse-master-key",
    "x-parse-session-token",
    "x-parse-installation-id",
    "x-parse-client-version",
    "x-parse-revocable-session",
]
CORS_EXPOSE_HEADERS = ["X-Request-Id", "ETag", "Location", "Retry-After", "Idempotent-Replayed"] + [
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "X-Basalt-File-Id",
    "Content-Range",
    "Accept-Ranges",
    "Content-Disposition",
    # The Parse SDKs read a push's status id only when exposed (basalt.parse.push).
    "X-Parse-Job-Status-Id",
    "X-Parse-Push-Status-Id",
]
CORS_PREFLIGHT_MAX_AGE = 600

# --- limits ----------------------------------------------------------------------------------
BASALT_MAX_JSON_BODY = env_int("BASALT_MAX_JSON_BODY", 1024 * 1024)
# Documents, queries and batch answered past the middleware chain with the chain's effects
# (basalt.documents.api.hot_routes); false sends them through the whole chain like any route.
BASALT_HOT_ROUTES = env_bool("HOT_ROUTES", True)
# `serve` on granian over SQLite answers single-document requests on its event loop; a find or count
# still running after this many milliseconds there is run again on a request thread
# (basalt/core/loop_lane.py). 0 runs every request on the request threads.
SERVE_LOOP_BUDGET_MS = env_int("SERVE_LOOP_BUDGET_MS", 10)
if SERVE_LOOP_BUDGET_MS < 0:
    raise ConfigurationError(f"SERVE_LOOP_BUDGET_MS must be 0 or more, got {SERVE_LOOP_BUDGET_MS}")
DATA_UPLOAD_MAX_MEMORY_SIZE = BASALT_MAX_JSON_BODY
# Bounds on the work of one find/count and of one batch (basalt/documents/query/budget.py).
QUERY_TIMEOUT_MS = env_int("QUERY_TIMEOUT_MS", 5000)
# Usage report: projects with more documents than this show the sizes of the periodic (hourly)
# measurement instead of counting every document's bytes on each view.
USAGE_LIVE_SIZES_LIMIT = env_int("USAGE_LIVE_SIZES_LIMIT", 100_000)
FIND_MAX_RESPONSE_BYTES = env_int("FIND_MAX_RESPONSE_BYTES", 16 * 1024 * 1024)
BATCH_TIMEOUT_MS = env_int("BATCH_TIMEOUT_MS", 15000)
BATCH_MAX_RESPONSE_BYTES = env_int("BATCH_MAX_RESPONSE_BYTES", 32 * 1024 * 1024)

# --- email -----------------------------------------------------------------------------------
EMAIL_URL_HOST = env_str("EMAIL_HOST")
if EMAIL_URL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = EMAIL_URL_HOST
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    # No mail server: mails go to files in the data folder and to the console's Outbox (basalt.logs).
    EMAIL_BACKEND = "basalt.logs.mail.OutboxBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Basalt <no-reply@localhost>")

# --- security --------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# End-user sign-ups and anonymous sign-ins allowed per client address per hour.
IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR = env_int("IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR", 30)
# Failed console sign-ins locked for 15 minutes per (client address, account) and per client address;
# nothing locks an account from every address, so a guesser cannot lock its owner out.
CONSOLE_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = env_int("CONSOLE_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", 5)
CONSOLE_SIGNIN_FAILURES_PER_ADDRESS = env_int("CONSOLE_SIGNIN_FAILURES_PER_ADDRESS", 20)

# --- push (basalt.push) ----------------------------------------------------------------------
# Test seams: unset in production. FCM's API base (firebase-admin has no option for it), APNs'
# host:port and a CA file for its TLS; private/loopback Web Push endpoints and FCM token URIs.
PUSH_FCM_API_BASE = env_str("PUSH_FCM_API_BASE")
PUSH_APNS_ENDPOINT = env_str("PUSH_APNS_ENDPOINT")
PUSH_APNS_CA_FILE = env_str("PUSH_APNS_CA_FILE")
PUSH_ALLOW_PRIVATE_ENDPOINTS = env_bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", False)
# Seconds a worker may hold claimed deliveries before they count as abandoned by a crash.
PUSH_LEASE_SECONDS = env_int("PUSH_LEASE_SECONDS", 120)
PUSH_MAX_ATTEMPTS = env_int("PUSH_MAX_ATTEMPTS", 5)
PUSH_HTTP_TIMEOUT = env_int("PUSH_HTTP_TIMEOUT", 10)
# FCM sends in flight per worker process (threads and kept-alive connections). HTTP v1 takes one
# message per request, so this times the round trip bounds a process's rate: 64 at 40 ms is 1,600/s.
PUSH_FCM_CONCURRENCY = env_int("PUSH_FCM_CONCURRENCY", 64)
# Worker runs sending one push at once (the run that fans out asks for the others): match it to
# the worker processes that may send (celery --concurrency, times the worker machines).
PUSH_SEND_TASKS = env_int("PUSH_SEND_TASKS", 2)
