"""Field types: importing this package registers every built-in type in `registry`."""

from basalt.documents.fields import (  # noqa: F401
    array,
    boolean,
    date,
    file,
    geopoint,
    number,
    object,
    pointer,
    relation,
    string,
)
from basalt.documents.fields.base import FieldError, FieldType, get_field_type, registry

__all__ = ["FieldError", "FieldType", "get_field_type", "registry"]
