"""Errors of the files area that the shared contract maps to JSON like every other."""

from basalt.core.errors import BasaltError, PayloadTooLarge


class QuotaExceeded(PayloadTooLarge):
    code = "quota_exceeded"
    default_message = "The project's storage quota would be exceeded."


class RangeNotSatisfiable(BasaltError):
    status = 416
    code = "range_not_satisfiable"
    default_message = "The requested range is outside the file."


class BadContentType(BasaltError):
    status = 415
    code = "unsupported_media_type"
    default_message = "This type of file is not accepted."
