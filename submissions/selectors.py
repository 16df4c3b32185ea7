"""Read queries of submissions."""

import re
from typing import Any

from django.db.models import QuerySet

from steve.models import Company
from submissions.models import Submission


def company_submissions(company: Company) -> QuerySet[Submission]:
    return Submission.objects.filter(company=company).select_related("workflow", "workflow_version")


def company_submission(company: Company, submission_id: str) -> Submission | None:
    return company_submissions(company).filter(pk=submission_id).first()


def field_label(name: str, spec: dict[str, Any]) -> str:
    """What a reviewer reads: the schema's title, else the key de-camelCased
    ("totalAmount" → "Total amount")."""
    title = spec.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", name).split()
    return " ".join(words).capitalize() if words else name
