"""The per-project caller epoch and the triggers that bump it (see CallerEpoch).

Triggers, not application code: a session is revoked from sign-out, password changes, refresh
reuse detection, the console and cascading deletes, and a role membership changes through the
roles API, the built-in collections and relation edges. The database sees every one of them, in
the transaction that makes the change.
"""

from django.db import migrations, models

EPOCH = "basalt_caller_epoch"
ROLE = "basalt_role"

# (table, event, condition on OLD/NEW or None, where the project id comes from)
#   "project_id": the row's own column; "<column>": a role id whose role names the project.
TRIGGERS = [
    ("basalt_end_user_session", "UPDATE", "revoked_at,user_id,project_id", "project_id"),
    ("basalt_end_user_session", "DELETE", None, "project_id"),
    ("basalt_end_user", "UPDATE", "disabled,project_id", "project_id"),
    ("basalt_end_user", "DELETE", None, "project_id"),
    ("basalt_role", "UPDATE", "name,project_id", "project_id"),
    ("basalt_role", "DELETE", None, "project_id"),
    ("basalt_role_member", "INSERT", None, "role_id"),
    ("basalt_role_member", "UPDATE", None, "role_id"),
    ("basalt_role_member", "DELETE", None, "role_id"),
    ("basalt_role_inheritance", "INSERT", None, "child_id"),
    ("basalt_role_inheritance", "UPDATE", None, "child_id"),
    ("basalt_role_inheritance", "DELETE", None, "child_id"),
    ("basalt_signing_key", "UPDATE", "status,verify_until,project_id", "project_id"),
    ("basalt_signing_key", "DELETE", None, "project_id"),
]


def _name(table: str, event: str) -> str:
    return f"{table}_epoch_{event.lower()}"


POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION basalt_caller_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source jsonb;
    pid bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN source := to_jsonb(NEW); ELSE source := to_jsonb(OLD); END IF;
    IF TG_ARGV[0] = 'project_id' THEN
        pid := (source ->> 'project_id')::bigint;
    ELSE
        SELECT r.project_id INTO pid FROM {ROLE} r WHERE r.id = (source ->> TG_ARGV[0])::bigint;
    END IF;
    IF pid IS NOT NULL THEN
        INSERT INTO {EPOCH} (project_id, version) VALUES (pid, 1)
        ON CONFLICT (project_id) DO UPDATE SET version = {EPOCH}.version + 1;
    END IF;
    RETURN NULL;
END $$;
"""  # noqa: S608 - constant table names, no input


def _postgres_trigger(table: str, event: str, columns: str | None, source: str) -> str:
    when = ""
    if columns:
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns.split(","))
        when = f"WHEN ({changed}) "
    return (
        f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW {when}"
        f"EXECUTE FUNCTION basalt_caller_epoch_bump('{source}');"
    )


def _sqlite_trigger(table: str, event: str, columns: str | None, source: str) -> str:
    row = "NEW" if event == "INSERT" else "OLD"
    when = ""
    if columns:
        when = "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns.split(",")) + " "
    if source == "project_id":
        pick = f"SELECT {row}.project_id, 1 WHERE {row}.project_id IS NOT NULL"
    else:
        pick = f"SELECT r.project_id, 1 FROM {ROLE} r WHERE r.id = {row}.{source}"  # noqa: S608 - constants
    return (
        f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW {when}BEGIN "
        f"INSERT INTO {EPOCH} (project_id, version) {pick} "
        f"ON CONFLICT (project_id) DO UPDATE SET version = version + 1; END;"
    )


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION)
        for trigger in TRIGGERS:
            schema_editor.execute(_postgres_trigger(*trigger))
    elif vendor == "sqlite":
        for trigger in TRIGGERS:
            schema_editor.execute(_sqlite_trigger(*trigger))
    else:  # pragma: no cover - Basalt runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no caller-epoch triggers for {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, event, _, _ in TRIGGERS:
        suffix = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_name(table, event)}{suffix}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS basalt_caller_epoch_bump()")


class Migration(migrations.Migration):
    dependencies = [("identity", "0002_role_doc_id")]

    operations = [
        migrations.CreateModel(
            name="CallerEpoch",
            fields=[
                ("project_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
            options={"db_table": "basalt_caller_epoch"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
