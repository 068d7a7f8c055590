#!/usr/bin/env python
"""Run Basalt's management commands with `platform/` as the source root."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# `platform/` is a source root, not a package, so the standard library's `platform` stays importable.
sys.path.insert(0, str(ROOT / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
    from django.core.management import execute_from_command_line

    from basalt.env import ConfigurationError

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as exc:
        # An operator mistake, not a bug: one line that says what to fix, no traceback.
        sys.stderr.write(f"basalt: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
