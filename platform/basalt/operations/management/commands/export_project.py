"""Export a project into one archive file (the format the management API's exports download)."""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from basalt.core.errors import BasaltError
from basalt.operations import exporting
from basalt.operations.management.commands import _transfer


class Command(BaseCommand):
    help = (
        "Write project REF (schema, documents, users with password hashes, roles, files, settings without "
        "secrets) to --output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ref", required=True, help="the project's ref")
        parser.add_argument("--output", required=True, help="archive path to write (.basalt.tar.gz); '-' for stdout")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, ref: str, output: str, quiet: bool, **options):
        project = _transfer.project(ref)
        progress = None if quiet else _transfer.progress
        partial = f"{output}.partial"
        try:
            if output == "-":
                result = exporting.export_project(project, self.stdout._out.buffer, progress)
                return
            # Written beside the target and renamed at the end: a failed export never leaves a half archive.
            with open(partial, "xb") as sink:
                result = exporting.export_project(project, sink, progress)
            os.replace(partial, output)
        except BasaltError as exc:
            raise _transfer.fail(exc) from None
        except FileExistsError:
            raise CommandError(f"{partial} exists: another export is writing it, or remove it.") from None
        except BaseException:
            if output != "-" and os.path.exists(partial):
                os.remove(partial)
            raise
        self.stdout.write(json.dumps({"project": project.ref, "output": output, **result}, indent=2))
