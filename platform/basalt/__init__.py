"""Basalt: a self-hostable Backend-as-a-Service."""

from basalt.celery import app as celery_app

__all__ = ["celery_app"]
