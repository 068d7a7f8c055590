"""A claim walks (push, provider, pending) in id order and stops after a batch.

Without it PostgreSQL walked the primary key, filtering out every other push's rows, or scanned
the whole push through `delivery_claim` to sort by id: measured 78 ms a claim at 50,000 pending
deliveries, growing with the table (one claim per batch of 500)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("push", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["push", "provider", "status", "id"], name="delivery_queue"),
        ),
    ]
