"""Give every role the id of its document in the built-in `roles` collection."""

from django.db import migrations, models

import basalt.identity.models


def fill(apps, schema_editor):
    Role = apps.get_model("identity", "Role")
    for role in Role.objects.filter(doc_id__isnull=True):
        role.doc_id = basalt.identity.models.new_role_doc_id()
        role.save(update_fields=["doc_id"])


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial")]

    operations = [
        migrations.AddField(model_name="role", name="doc_id", field=models.CharField(max_length=32, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="role",
            name="doc_id",
            field=models.CharField(
                default=basalt.identity.models.new_role_doc_id, editable=False, max_length=32, unique=True
            ),
        ),
    ]
