"""`change_seq` now lives in `basalt_change_seq` (documents migration 0010 copied it there)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_invitation"),
        ("documents", "0010_change_seq_own_table"),
    ]

    operations = [migrations.RemoveField(model_name="project", name="change_seq")]
