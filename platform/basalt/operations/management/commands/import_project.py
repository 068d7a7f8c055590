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
        files = parser.add_argument_group("Parse file bytes (--format parse; without these, File fields keep URLs)")
        files.add_argument("--parse-files", metavar="DIR", help="a folder holding the files by their Parse name")
        files.add_argument(
            "--parse-files-url",
            metavar="URL",
            help="fetch <URL><name> for files not in the folder (its host allowed below)",
        )
        files.add_argument(
            "--parse-files-allow-host",
            metavar="HOST",
            action="append",
            default=[],
            help="a host --parse-files-url may name (repeatable); the URLs inside the export are never fetched",
        )

    def handle(self, *args, ref: str, input: str, format: str, new_ids: bool, quiet: bool, **options):
        folder, base_url = options.get("parse_files"), options.get("parse_files_url")
        if (folder or base_url) and format != "parse":
            raise CommandError("--parse-files and --parse-files-url go with --format parse.")
        project = _transfer.project(ref)
        progress = None if quiet else _transfer.progress
        try:
            open(input, "rb").close()
        except OSError as exc:
            raise CommandError(f"cannot read {input}: {exc.strerror}") from None
        try:
            if format == "parse":
                from basalt.operations import parse_import
                from basalt.operations.parse_files import FileSource

                source = None
                if folder or base_url:
                    allowed = tuple(options.get("parse_files_allow_host") or ())
                    source = FileSource(folder=folder, base_url=base_url, allowed_hosts=allowed)
                result = parse_import.import_parse(project, lambda: open(input, "rb"), progress, files=source)
            else:
                result = importing.import_archive(project, lambda: open(input, "rb"), progress, new_ids=new_ids)
        except BasaltError as exc:
            raise _transfer.fail(exc) from None
        self.stdout.write(json.dumps({"project": project.ref, **result}, indent=2))
