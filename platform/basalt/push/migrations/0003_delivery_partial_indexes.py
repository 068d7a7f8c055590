"""Delivery indexes that hold only the states their queries look for.

A delivery is inserted pending and updated to claimed, sending and sent: a status change is not a
HOT update, so every version was written into all six indexes (24 entries a delivery). The claim,
tick and finish queries read pending, held (claimed, sending) or open rows only; partial indexes
on those states take 15 entries a delivery, and the push foreign key's own index was a prefix of
`one_delivery_per_installation`. Measured with bench/push_bench.py: PostgreSQL CPU per delivery
(see the push README)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("push", "0002_delivery_queue_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_claim",
        ),
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_lease",
        ),
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_queue",
        ),
        migrations.AlterField(
            model_name="delivery",
            name="push",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="push.push"
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "claimed", "sending"))),
                fields=["push", "status", "due_at"],
                name="delivery_open",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "pending")), fields=["push", "provider", "id"], name="delivery_pending"
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(condition=models.Q(("status", "pending")), fields=["due_at"], name="delivery_due"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status__in", ("claimed", "sending"))),
                fields=["claimed_at"],
                name="delivery_lease_held",
            ),
        ),
    ]
