# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0010_change_seq_own_table"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="changelogentry",
                    name="after",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, null=True),
                ),
                migrations.AlterField(
                    model_name="changelogentry",
                    name="before",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, null=True),
                ),
                migrations.AlterField(
                    model_name="collection",
                    name="fields",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="collection",
                    name="indexes",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="collection",
                    name="permissions",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="collection",
                    name="protected_fields",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="collectionindex",
                    name="fields",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="acl",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="data",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="read_principals",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="write_principals",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="fieldpurge",
                    name="doc_after",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, null=True),
                ),
            ],
        ),
    ]
