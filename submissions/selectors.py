"""Read queries of submissions."""

import re
from typing import Any

from django.db.models import QuerySet

from steve.models import Company
from submissions.models import Submission


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
