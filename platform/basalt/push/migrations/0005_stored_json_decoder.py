# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("push", "0004_installation_custom_field"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="push",
                    name="audience",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="push",
                    name="message",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
