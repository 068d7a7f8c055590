"""Run the embedded default in one process: migrate, then serve HTTP, WebSockets and static files."""

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.http import Http404


class Command(BaseCommand):
    help = "Apply migrations and serve Basalt (API, WebSockets, console, static files) with daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not run background tasks in this process (embedded profile)"
        )

    def handle(self, *args, host: str, port: int, no_migrate: bool, no_worker: bool = False, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from basalt.asgi import application

        if not settings.PRODUCTION or settings.DEBUG:
            from channels.routing import ProtocolTypeRouter
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

            class StaticFiles(ASGIStaticFilesHandler):
                """Serve static files; a path that escapes the static roots is a 404, not a 500."""

                def serve(self, request):
                    try:
                        return super().serve(request)
                    except SuspiciousOperation:
                        raise Http404("Not found.") from None

            application = ProtocolTypeRouter(
                {
                    "http": StaticFiles(application.application_mapping["http"]),
                    "websocket": application.application_mapping["websocket"],
                }
            )
        self.stdout.write(
            f"Basalt ({settings.PROFILE}) on http://{host}:{port}/  data: {settings.DATA_DIR}  "
            f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
        )
        worker = self._start_background_worker() if not no_worker else None
        try:
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                http_timeout=120,
                websocket_timeout=86400,
                application_close_timeout=10,
                verbosity=0,
            ).run()
        finally:
            if worker is not None:
                worker.stop()

    def _start_background_worker(self):
        """Without a broker, run Celery's worker and beat in this process (see basalt.core.background)."""
        from basalt.celery import app as celery_app
        from basalt.core.background import EmbeddedWorker, in_process_broker

        if not in_process_broker(celery_app):
            return None  # a real broker: tasks go to separate `celery worker` processes
        worker = EmbeddedWorker(celery_app, settings.DATA_DIR / "celerybeat-schedule")
        worker.start()
        self.stdout.write("Background tasks: in-process Celery worker and beat (memory broker)")
        return worker
