"""The validated query: a small AST of `where` conditions plus order, paging and projection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SYSTEM_FIELDS = ("id", "created_at", "updated_at")


@dataclass(frozen=True)
class FieldRef:
    """A field a condition or sort key names: a system column or a JSON path into `data`."""

    path: tuple[str, ...]
    # string, number, boolean, date, pointer, file, object, array, geopoint, … or None inside an object.
    type: str | None
    system: bool = False
    items: str | None = None  # element type of an array field, when declared

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Node:
    """Base of every condition node."""


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Nor(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    """`$eq $ne $lt $lte $gt $gte $in $nin` against stored-form operands (None = missing or null)."""

    field: FieldRef
    op: str
    value: Any  # a scalar, or a tuple of scalars for $in/$nin


@dataclass(frozen=True)
class Exists(Node):
    field: FieldRef
    present: bool


@dataclass(frozen=True)
class Regex(Node):
    field: FieldRef
    pattern: str
    ignore_case: bool


@dataclass(frozen=True)
class Contains(Node):
    """Array has the element (`$contains`) or every listed element (`$all`)."""

    field: FieldRef
    values: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf(Node):
    """Array has at least one element among `values` (`$in` on an array field)."""

    field: FieldRef
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ArrayEquals(Node):
    """Array is exactly `values`, in order (`$eq` with a list on an array field)."""

    field: FieldRef
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Search(Node):
    """Full-text: every word token of the operand occurs as a word of the string field."""

    field: FieldRef
    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class RelatedTo(Node):
    """Targets of relation `field` of document `id` in collection `collection` (same project)."""

    collection: str
    id: str
    field: str


@dataclass(frozen=True)
class Near(Node):
    field: FieldRef
    lat: float
    lng: float
    max_km: float | None


@dataclass(frozen=True)
class WithinBox(Node):
    field: FieldRef
    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class WithinPolygon(Node):
    """A point inside the polygon of `vertices` ((lat, lng), closed implicitly), by the even-odd rule
    on the lat/lng plane, as Parse Server's `$geoWithin.$polygon` (no antimeridian crossing)."""

    field: FieldRef
    vertices: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ContainedBy(Node):
    """Array whose every element is among `values` (`$contained_by`); an empty array is."""

    field: FieldRef
    values: tuple[Any, ...]


@dataclass(frozen=True)
class OrderKey:
    field: FieldRef | None  # None: distance to the `$near` point
    descending: bool

    @property
    def label(self) -> str:
        name = "$distance" if self.field is None else self.field.name
        return ("-" if self.descending else "") + name


@dataclass
class Query:
    """A parsed, validated query ready for `run_find` / `run_count`."""

    where: Node | None
    order: list[OrderKey]
    limit: int
    cursor: str | None = None
    fields: list[str] | None = None
    expand: list[str] = field(default_factory=list)
    count: bool = False
    near: Near | None = None
    # The decoded cursor: the previous page's last sort values, one per `order` key (id last).
    after: list[Any] | None = None
    # What its cursors are bound to (cursors.query_binding), fixed when parsed: later rewrites of
    # `where` by the services must not orphan the cursors a page hands out.
    binding: bytes = b""


@dataclass
class DocRow:
    id: str
    data: dict[str, Any]
    acl: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int
    created_by: str | None


@dataclass
class FindResult:
    rows: list[DocRow]
    next_cursor: str | None
    count: int | None = None
