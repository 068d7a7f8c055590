# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0004_transfer_attempts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="summary",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="idempotencyrecord",
                    name="headers",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="transfer",
                    name="error",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, null=True),
                ),
                migrations.AlterField(
                    model_name="transfer",
                    name="progress",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
