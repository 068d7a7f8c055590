"""Build model instances from hand-written SQL rows, with the same value conversion the ORM applies.

The request hot path resolves its API key on every call; compiling that ORM query cost more than
running it, so it is written once in SQL and its rows are turned into models here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class RowLoader:
    """Turn a slice of a row into an instance of `model`, converting like the SQL compiler does."""

    def __init__(self, model: type[models.Model], alias: str):
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self._converters: dict[str, list[list[tuple[Converter, Any]]]] = {}

    def columns(self, quote: Callable[[str], str]) -> str:
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def _converters_for(self, connection: BaseDatabaseWrapper) -> list[list[tuple[Converter, Any]]]:
        key = connection.vendor
        if key not in self._converters:
            per_field = []
            for field in self.fields:
                expression = field.get_col(self.alias)
                found = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
                per_field.append([(converter, expression) for converter in found])
            self._converters[key] = per_field
        return self._converters[key]

    def load(self, row: Sequence[Any], connection: BaseDatabaseWrapper) -> models.Model:
        values = []
        for value, converters in zip(row, self._converters_for(connection), strict=True):
            for converter, expression in converters:
                value = converter(value, expression, connection)
            values.append(value)
        return self.model.from_db(connection.alias, [field.attname for field in self.fields], values)
