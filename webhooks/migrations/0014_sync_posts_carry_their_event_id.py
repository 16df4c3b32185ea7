from django.db import migrations

SYNC_EVENT = "submission.sync"  # webhooks.catalogue.SYNC_EVENT, frozen as it was


def name_each_sync_post(apps, schema_editor) -> None:
    """Sync posts queued before their body carried `eventId` and `eventType`: their
    retries and redeliveries would post the old `{"submission": …}` body, with no signed
    id for the receiver to de-duplicate by. Give them the ones a new post carries."""
    delivery_model = apps.get_model("webhooks", "WebhookDelivery")
    unnamed = delivery_model.objects.filter(purpose="sync").exclude(payload__has_key="eventId")
    for delivery in unnamed.only("pk", "event_id", "payload").iterator():
        payload = {"eventId": delivery.event_id, "eventType": SYNC_EVENT, **delivery.payload}
        delivery_model.objects.filter(pk=delivery.pk).update(payload=payload)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0013_endpoint_last_succeeded_delivery_failed_at"),
    ]

    operations = [
        migrations.RunPython(name_each_sync_post, migrations.RunPython.noop, elidable=True),
    ]
