"""Run Basalt in one process: migrate, then serve HTTP, WebSockets and static files, and run background tasks."""

from __future__ import annotations

import os
import threading

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.http import Http404

# How long after start-up a server without its own worker checks that some worker consumes tasks.
WORKER_CHECK_SECONDS = 60


LISTEN_BACKLOG = 1024
HTTP_SERVERS = ("daphne", "granian")


class Command(BaseCommand):
    help = "Apply migrations and serve Basalt (API, WebSockets, console, static files) with granian (or daphne)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="run no background tasks here: a separate `celery -A basalt worker` consumes the broker",
        )
        parser.add_argument(
            "--proxy-headers", action="store_true", help="take client address and scheme from X-Forwarded-* headers"
        )
        parser.add_argument(
            "--http-server",
            choices=HTTP_SERVERS,
            default=os.environ.get("BASALT_SERVE_HTTP", "granian"),
            help="granian (default: about 2x daphne's requests per second; bench/README.md) or daphne "
            "(JSON errors also for malformed HTTP that granian answers with a bare 400/414/431, and "
            "sendfile(2) for ranges of local files); env BASALT_SERVE_HTTP",
        )

    def handle(self, *args, host: str, port: int, no_migrate: bool, no_worker: bool = False, **options):
        from basalt.core.memory import limit_malloc_arenas

        limit_malloc_arenas()  # before any request thread exists (core/memory.py)
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
            # This thread serves nothing: its connection goes back to the pool instead of idling.
            connections.close_all()
        if options.get("http_server") == "granian":
            self._serve_granian(host, port, no_worker, options.get("proxy_headers", False))
            return
        from daphne.endpoints import build_endpoint_description_strings

        from basalt.core.server import EdgeServer

        worker = self._start_background_tasks(no_worker)
        proxy = {}
        if options.get("proxy_headers"):
            proxy = {
                "proxy_forwarded_address_header": "X-Forwarded-For",
                "proxy_forwarded_port_header": "X-Forwarded-Port",
                "proxy_forwarded_proto_header": "X-Forwarded-Proto",
            }
        server = EdgeServer(
            application=self._application(),
            # twisted listens with a queue of 50 by default: a burst of a few hundred clients would
            # have its connections wait on SYN retries while the process is busy.
            endpoints=[
                f"{e}:backlog={LISTEN_BACKLOG}" for e in build_endpoint_description_strings(host=host, port=port)
            ],
            http_timeout=120,
            websocket_timeout=86400,
            application_close_timeout=10,
            verbosity=0,
            on_listening=lambda: self._banner(host, port),
            **proxy,
        )
        try:
            server.run()
        finally:
            if worker is not None:
                worker.stop()
        if server.listen_failure:
            raise CommandError(f"cannot listen on {host}:{port}: {server.listen_failure}")

    def _serve_granian(self, host: str, port: int, no_worker: bool, proxy_headers: bool) -> None:
        """The same ASGI application on granian's server, in this process and its event loop.

        Measured against daphne on the same SQLite file (bench/README.md, 2026-12-07): granian
        parses HTTP in Rust, where Twisted's parsing and daphne's reply handling took about half of
        this process's Python time. What core/server.py adds to daphne, core/granian_server.py adds
        here (JSON 414/431, bodies read by the view while they arrive, whole local files sent by
        granian from their path), except for what granian's parser refuses itself: bytes that are
        not HTTP, URLs of 64 KiB and more and more than 100 header lines get its bare 400/414/431."""
        self._check_port_free(host, port)
        worker = self._start_background_tasks(no_worker)
        try:
            self._run_granian(host, port, proxy_headers)
        finally:
            if worker is not None:
                worker.stop()

    def _run_granian(self, host: str, port: int, proxy_headers: bool) -> None:
        import asyncio
        import signal

        from granian.constants import HTTPModes, Interfaces
        from granian.server.embed import Server

        from basalt.core.granian_server import edge_application

        # Bodies that reach the view while they arrive each hold a request thread as long as the
        # client takes to send: at most half of them (as core.server.EdgeServer does). The loop's
        # budget is read once the background worker has started (it turns inline tasks off).
        application = edge_application(
            self._application(), max(1, settings.REQUEST_THREADS // 2), self._loop_budget_ms()
        )
        if proxy_headers:
            from granian.utils.proxies import wrap_asgi_with_proxy_headers

            application = wrap_asgi_with_proxy_headers(application, trusted_hosts="*")
        server = Server(
            application,
            address=host,
            port=port,
            # Django and Channels speak no lifespan protocol.
            interface=Interfaces.ASGINL,
            http=HTTPModes.http1,
            websockets=True,
            backlog=LISTEN_BACKLOG,
            log_enabled=False,
        )

        async def run() -> None:
            loop = asyncio.get_running_loop()
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(number, server.stop)
            serving = asyncio.ensure_future(server.serve())
            # serve() binds before its first wait: one turn of the loop tells a busy port.
            await asyncio.sleep(0)
            if serving.done():
                serving.result()
            self._banner(host, port)
            await serving

        try:
            asyncio.run(run())
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None

    @staticmethod
    def _loop_budget_ms() -> int:
        """Single-document requests on the event loop (core.loop_lane): on SQLite only, where no
        network round trip holds the loop, and only while background tasks run on the worker, not
        inline in the request (a webhook's delivery would hold the loop for its whole exchange)."""
        from basalt.celery import app as celery_app

        if connections["default"].vendor != "sqlite" or celery_app.conf.task_always_eager:
            return 0
        return settings.SERVE_LOOP_BUDGET_MS

    @staticmethod
    def _check_port_free(host: str, port: int) -> None:
        """granian listens with SO_REUSEPORT: a second server on a busy port would share it, each
        answering some of the connections from its own data. A bind without it fails there."""
        import socket

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def _application(self):
        from basalt.asgi import application

        if settings.PRODUCTION and not settings.DEBUG:
            return application  # static files come from WhiteNoise/the proxy in production
        from channels.routing import ProtocolTypeRouter
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        class StaticFiles(ASGIStaticFilesHandler):
            """Serve static files; a path that escapes the static roots is a 404, not a 500."""

            def serve(self, request):
                try:
                    return super().serve(request)
                except SuspiciousOperation:
                    raise Http404("Not found.") from None

        return ProtocolTypeRouter(
            {
                "http": StaticFiles(application.application_mapping["http"]),
                "websocket": application.application_mapping["websocket"],
            }
        )

    def _banner(self, host: str, port: int) -> None:
        self.stdout.write(
            f"Basalt ({settings.PROFILE}) on http://{host}:{port}/  data: {settings.DATA_DIR}  "
            f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
        )
        self.stdout.flush()

    def _start_background_tasks(self, no_worker: bool):
        """Run Celery's worker and beat here unless told a separate worker consumes the broker."""
        from basalt.celery import app as celery_app
        from basalt.core.background import EmbeddedWorker, broker_label, in_process_broker

        broker = broker_label(celery_app)
        if celery_app.conf.task_always_eager and not in_process_broker(celery_app):
            self.stdout.write("Background tasks: run inline in the request (CELERY_TASK_ALWAYS_EAGER)")
            return None
        if no_worker:
            if in_process_broker(celery_app):
                self.stdout.write("Background tasks: run inline in the request (--no-worker, no broker)")
            else:
                self.stdout.write(f"Background tasks: left to a separate `celery -A basalt worker` on {broker}")
                self._check_consumer_later()
            return None
        worker = EmbeddedWorker(celery_app, settings.DATA_DIR / "celerybeat-schedule")
        worker.start()
        self.stdout.write(f"Background tasks: in-process Celery worker and beat ({broker})")
        return worker

    def _check_consumer_later(self) -> None:
        from basalt.core.background import tasks_consumed

        def check():
            if not tasks_consumed():
                self.stderr.write(
                    "basalt: warning: no background worker has reported in; queued tasks (index builds, "
                    "email, push) stay pending until `celery -A basalt worker` runs on this broker"
                )

        timer = threading.Timer(WORKER_CHECK_SECONDS, check)
        timer.daemon = True
        timer.start()
