from django.db import migrations, models
from django.db.models import F


def every_change_so_far(apps, schema_editor):
    """Nothing says what older versions changed: a page drawn before the current version
    stays stale for every correction, as it was."""
    Submission = apps.get_model("submissions", "Submission")
    Submission.objects.update(state_version=F("version"), claim_version=F("version"))


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0007_plural_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="state_version",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="submission",
            name="claim_version",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="submission",
            name="field_versions",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(every_change_so_far, migrations.RunPython.noop),
    ]
