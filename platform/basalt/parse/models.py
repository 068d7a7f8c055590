"""Parse session tokens: an opaque `r:…` handle on a Basalt session, stored hashed."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from basalt.identity.models import Session


class ParseSessionToken(models.Model):
    """One Parse session token; the Basalt session it names decides whether it still works.

    Revoking the session (logout through either face, password change, admin revocation) ends the
    token too, because every use checks the session, never this row alone."""

    token_hash = models.CharField(primary_key=True, max_length=64)
    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="parse_token")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_parse_session_token"

    def __str__(self) -> str:
        return f"parse token of {self.session_id}"
