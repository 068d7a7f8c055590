# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("basalt_logs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sentmail",
                    name="links",
                    field=models.JSONField(decoder=basalt.core.json.StoredJson, default=list),
                ),
            ],
        ),
    ]
