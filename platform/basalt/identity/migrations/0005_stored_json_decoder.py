# The decoder only changes how Python reads the columns: state only, no SQL. Without the wrapper
# SQLite would rebuild each table, dropping the indexes and triggers made by hand-written SQL.

import basalt.core.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0004_providers_mfa"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="authchallenge",
                    name="data",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="enduser",
                    name="data",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="linkedidentity",
                    name="profile",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=dict),
                ),
                migrations.AlterField(
                    model_name="passkey",
                    name="transports",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=list),
                ),
                migrations.AlterField(
                    model_name="role",
                    name="acl",
                    field=models.JSONField(blank=True, decoder=basalt.core.json.StoredJson, default=dict),
                ),
            ],
        ),
    ]
