"""A second data fingerprint of a submission: what its page shows where its PDF's text
layer says otherwise. Rows stored so far are all of what was read (shown=False), as they
were: no row is recomputed."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fraud", "0011_merchant_names_in_any_script"),
    ]

    operations = [
        migrations.AddField(
            model_name="datafingerprint",
            name="shown",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="datafingerprint",
            name="submission",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="submissions.submission",
            ),
        ),
        migrations.AddConstraint(
            model_name="datafingerprint",
            constraint=models.UniqueConstraint(
                fields=("submission", "shown"), name="fraud_data_one_per_reading"
            ),
        ),
    ]
