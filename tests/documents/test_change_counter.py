"""The change log's per-project counter lives in its own row (`basalt_change_seq`), not in the project row.

Every request's key lookup reads the project row; writes must not rewrite it (documents/README.md,
"The counter has its own table")."""

from __future__ import annotations

import pytest
from django.db import connection

DOCS = "/api/v1/collections/posts/documents"


def _project_row_version(project_id: int) -> tuple:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the tuple's creating transaction: changes on any rewrite
            cursor.execute("SELECT xmin::text, ctid::text FROM basalt_project WHERE id = %s", [project_id])
        else:
            cursor.execute("SELECT * FROM basalt_project WHERE id = %s", [project_id])
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_writes_number_the_log_without_rewriting_the_project_row(project, pk, sk):
    from basalt.documents import changefeed
    from basalt.documents.changefeed import latest_seq
    from basalt.documents.models import ChangeLogEntry
    from basalt.realtime import changes

    project_id = project.project.pk
    assert latest_seq(project_id) == 0 and changes.positions([project_id]) == {project_id: 0}
    before = _project_row_version(project_id)

    doc = pk.post(DOCS, {"title": "a"}, format="json").json()
    pk.patch(f"{DOCS}/{doc['id']}", {"title": "b"}, format="json")
    batch = [{"method": "POST", "path": DOCS, "body": {"title": f"t{i}"}} for i in range(3)]
    assert sk.post("/api/v1/batch", {"requests": batch}, format="json").status_code == 200
    pk.delete(f"{DOCS}/{doc['id']}")
    assert changefeed.wait_settled(30)

    seqs = list(ChangeLogEntry.objects.filter(project_id=project_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert latest_seq(project_id) == 6
    assert changes.positions([project_id]) == {project_id: 6}
    assert changes.project_seq(project_id) == 6
    assert _project_row_version(project_id) == before
