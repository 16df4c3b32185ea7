from django.db import migrations, models
from django.db.models import Count, F


def count_every_attempt(apps, schema_editor) -> None:
    """Deliveries redelivered before: their count restarted at 0 while the log was kept.
    Count the whole log, number it in order, and start the current budget where the old
    count did."""
    delivery_model = apps.get_model("webhooks", "WebhookDelivery")
    attempt_model = apps.get_model("webhooks", "WebhookAttempt")
    redelivered = delivery_model.objects.annotate(logged=Count("log")).exclude(logged=F("attempts"))
    for delivery in redelivered.iterator():
        attempts = attempt_model.objects.filter(delivery_id=delivery.pk).order_by("pk")
        for number, attempt in enumerate(attempts, start=1):
            if attempt.number != number:
                attempt.number = number
                attempt.save(update_fields=["number"])
        delivery_model.objects.filter(pk=delivery.pk).update(
            attempts=delivery.logged,
            attempts_before_redelivery=max(delivery.logged - delivery.attempts, 0),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0006_endpoint_last_failure_at"),
    ]

    operations = [
        # Integers, not smallints: redeliveries have no limit, and ~4,000 of a failing
        # delivery passed 32,767 (the worker's claim failed with a DB error). Rewrites
        # webhooks_webhookattempt, one row per attempt ever made.
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
        migrations.AddField(
            model_name="webhookdelivery",
            name="attempts_before_redelivery",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_every_attempt, migrations.RunPython.noop, elidable=True),
    ]
