"""DataFingerprint.merchant recomputed where its name has letters beyond ASCII.

fraud.normalise.merchant dropped every letter beyond ASCII (a Greek or Chinese name was
nothing, "MR. D.I.Y. (Магазин)" was "MR D I Y", "Søstrene" "SSTRENE"); it now keeps the
letters of any script. A name of ASCII letters normalises as before, so only rows whose
submission's name has another character can differ: those are recomputed from the
submission's extracted data, as ``manage.py fraud_refingerprint`` recomputes data rows.
A name wholly of other scripts stored no data row (no merchant): those earlier
submissions stay unknown to the data check (their page and text checks still find them).
"""

from typing import Any

from django.db import migrations
from django.db.models.fields.json import KT

from fraud import normalise

BATCH = 500


def recompute_merchants(apps: Any, schema_editor: Any) -> None:
    DataFingerprint = apps.get_model("fraud", "DataFingerprint")
    Submission = apps.get_model("submissions", "Submission")
    rows = (
        Submission.objects.filter(pk__in=DataFingerprint.objects.values("submission_id"))
        .annotate(
            merchant_name=KT("extracted_data__merchantName"),
            vendor_name=KT("extracted_data__vendorName"),
        )
        .values_list("pk", "merchant_name", "vendor_name")
    )
    recomputed: dict[Any, str] = {}
    for pk, merchant_name, vendor_name in rows.iterator(chunk_size=BATCH):
        name = merchant_name or vendor_name or ""
        if not name.isascii() and (merchant := normalise.merchant(name)):
            recomputed[pk] = merchant  # a name of ASCII letters normalises as before
    stored = DataFingerprint.objects.filter(submission_id__in=recomputed)
    changed = [
        DataFingerprint(pk=pk, merchant=recomputed[submission_id])
        for pk, submission_id, merchant in stored.values_list("pk", "submission_id", "merchant")
        if merchant != recomputed[submission_id]
    ]
    DataFingerprint.objects.bulk_update(changed, ["merchant"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("fraud", "0010_match_withdraw_failed_at"),
        ("submissions", "0020_submission_review_entered_at"),
    ]

    operations = [
        migrations.RunPython(recompute_merchants, migrations.RunPython.noop, elidable=True)
    ]
