"""Attempt counts as integers: redeliveries have no limit, and ~4,000 of a failing
delivery passed a smallint's 32,767 (the worker's claim failed with a DB error).
The ALTER rewrites webhooks_webhookattempt, one row per attempt ever made."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0007_delivery_attempts_before_redelivery"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookattempt",
            name="number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="attempts",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="attempts_before_redelivery",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
