from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fraud", "0007_data_receipt_number"),
    ]

    operations = [
        # Empty for older rows: their resolutions are counted in the submission's
        # state_version or, per actor, its fraud_versions (refuse_stale_resolution).
        migrations.AddField(
            model_name="fraudmatch",
            name="resolution_version",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="fraudmatch",
            name="resolution_by",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
