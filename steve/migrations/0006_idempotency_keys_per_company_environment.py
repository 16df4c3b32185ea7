import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery


def scope_by_company_environment(apps, schema_editor):
    """Each existing key takes its API key's company and environment. Two API keys of one
    company and environment may each have used a key: one row of such a group is kept,
    the newest finished one (what a retry within the TTL most likely expects back), else
    the newest; a retry through the others' API key now replays it or is a 422."""
    IdempotencyKey = apps.get_model("steve", "IdempotencyKey")
    ApiKey = apps.get_model("steve", "ApiKey")
    issuer = ApiKey.objects.filter(pk=OuterRef("api_key_id"))
    IdempotencyKey.objects.update(
        company_id=Subquery(issuer.values("company_id")[:1]),
        environment=Subquery(issuer.values("environment")[:1]),
    )
    groups = (
        IdempotencyKey.objects.values("company_id", "environment", "key")
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
        .order_by()
    )
    for group in groups:
        rows = IdempotencyKey.objects.filter(
            company_id=group["company_id"], environment=group["environment"], key=group["key"]
        )
        kept = rows.order_by(
            models.Case(models.When(state="done", then=0), default=1), "-created_at", "-id"
        ).first()
        rows.exclude(pk=kept.pk).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("steve", "0005_idempotencykey_response_body_text"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="idempotencykey",
            name="idempotency_unique_key",
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="company",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="idempotency_keys",
                to="steve.company",
            ),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="environment",
            field=models.CharField(
                choices=[("production", "Production"), ("sandbox", "Sandbox")],
                default="production",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="idempotency_keys",
                to="steve.apikey",
            ),
        ),
        migrations.RunPython(scope_by_company_environment, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="idempotencykey",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="idempotency_keys",
                to="steve.company",
            ),
        ),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(
                fields=("company", "environment", "key"), name="idempotency_unique_key"
            ),
        ),
    ]
