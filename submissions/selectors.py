"""Read queries of submissions."""

from django.db.models import QuerySet

from steve.models import Company
from submissions.memory import REMEMBERED_FIELDS, Recall, Remembered, choose, shop_keys
from submissions.models import MerchantMemory, Submission


def company_submissions(company: Company) -> QuerySet[Submission]:
    return Submission.objects.filter(company=company).select_related("workflow", "workflow_version")


def company_submission(company: Company, submission_id: str) -> Submission | None:
    return company_submissions(company).filter(pk=submission_id).first()


def shop_memory(
    *, company_id: str, text: str, read_address: str | None, read_name: str | None
) -> dict[str, Recall]:
    """What this company's reviewers taught Steve about the shop of a receipt, by field."""
    keys = shop_keys(text, read_address, read_name)
    if not keys:
        return {}
    rows = [
        Remembered(m.key, m.field, m.value, m.times_right, m.times_wrong, m.pk)
        for m in MerchantMemory.objects.filter(company_id=company_id, key__in=keys)
    ]
    found = {name: choose(rows, name, keys) for name in REMEMBERED_FIELDS}
    return {name: recall for name, recall in found.items() if recall is not None}
