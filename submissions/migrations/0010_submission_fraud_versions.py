from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0009_sync_dropped_event_type"),
    ]

    operations = [
        # Empty for older rows: their fraud changes so far are counted in state_version.
        migrations.AddField(
            model_name="submission",
            name="fraud_versions",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
