"""Import an archive (or a Parse Server export) into an empty project, all or nothing."""

import json

from django.core.management.base import BaseCommand, CommandError

from basalt.core.errors import BasaltError
from basalt.operations import importing
from basalt.operations.management.commands import _transfer


class Command(BaseCommand):
    help = (
        "Import --input into the empty project REF (--format parse: a Parse Dashboard export, a .zip or "
        ".tar.gz of <Class>.json files)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ref", required=True, help="the empty project to import into")
        parser.add_argument("--input", required=True, help="archive path")
        parser.add_argument("--format", choices=("basalt", "parse"), default="basalt")
        parser.add_argument("--new-ids", action="store_true", help="give every document, user and file a new id")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, ref: str, input: str, format: str, new_ids: bool, quiet: bool, **options):
        project = _transfer.project(ref)
        progress = None if quiet else _transfer.progress
        try:
            open(input, "rb").close()
        except OSError as exc:
            raise CommandError(f"cannot read {input}: {exc.strerror}") from None
        try:
            if format == "parse":
                from basalt.operations import parse_import

                result = parse_import.import_parse(project, lambda: open(input, "rb"), progress)
            else:
                result = importing.import_archive(project, lambda: open(input, "rb"), progress, new_ids=new_ids)
        except BasaltError as exc:
            raise _transfer.fail(exc) from None
        self.stdout.write(json.dumps({"project": project.ref, **result}, indent=2))
