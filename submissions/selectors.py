"""Read queries of submissions."""

import re
from typing import Any

from django.db.models import QuerySet

from steve.models import Company
from submissions.memory import REMEMBERED_FIELDS, Recall, Remembered, choose, shop_keys
from submissions.models import MerchantMemory, Submission


def company_submissions(company: Company, environment: str | None = None) -> QuerySet[Submission]:
    """The company's submissions; of one environment when given (an API key always gives
    its own: another environment's submission is a 404 like another company's)."""
    queryset = Submission.objects.filter(company=company)
    if environment is not None:
        queryset = queryset.filter(environment=environment)
    return queryset.select_related("workflow", "workflow_version")


def company_submission(
    company: Company, submission_id: str, environment: str | None = None
) -> Submission | None:
    return company_submissions(company, environment).filter(pk=submission_id).first()


def field_label(name: str, spec: dict[str, Any]) -> str:
    """What a reviewer reads: the schema's title, else the key de-camelCased
    ("totalAmount" → "Total amount")."""
    title = spec.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", name).split()
    return " ".join(words).capitalize() if words else name


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
    found = {name: choose(rows, name, keys, text) for name in REMEMBERED_FIELDS}
    return {name: recall for name, recall in found.items() if recall is not None}
