"""Basalt's own settings plus the test app, so `manage.py serve` runs unchanged with an extra route."""

from basalt.settings import *  # noqa: F403
from basalt.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.foundation.background_site"]
ROOT_URLCONF = "tests.foundation.background_site.urls"
