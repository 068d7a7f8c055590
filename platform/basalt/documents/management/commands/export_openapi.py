"""Write the platform-wide OpenAPI document (committed in sdk/openapi/ and checked for staleness in CI)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from basalt.documents.openapi import build_document


def render_platform_document() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Export the platform OpenAPI document to PATH."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, **options):
        Path(options["path"]).write_text(render_platform_document(), encoding="utf-8")
