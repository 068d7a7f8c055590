# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("files", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="file",
                    name="acl",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="file",
                    name="read_principals",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="file",
                    name="write_principals",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="tusupload",
                    name="metadata",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
