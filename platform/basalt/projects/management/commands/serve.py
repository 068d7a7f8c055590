"""Run the embedded default in one process: migrate, then serve HTTP, WebSockets and static files."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Apply migrations and serve Basalt (API, WebSockets, console, static files) with daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")

    def handle(self, *args, host: str, port: int, no_migrate: bool, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from basalt.asgi import application

        if not settings.PRODUCTION or settings.DEBUG:
            from channels.routing import ProtocolTypeRouter
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

            application = ProtocolTypeRouter(
                {
                    "http": ASGIStaticFilesHandler(application.application_mapping["http"]),
                    "websocket": application.application_mapping["websocket"],
                }
            )
        self.stdout.write(
            f"Basalt ({settings.PROFILE}) on http://{host}:{port}/  data: {settings.DATA_DIR}  "
            f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
        )
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            http_timeout=120,
            websocket_timeout=86400,
            application_close_timeout=10,
            verbosity=0,
        ).run()
