"""Read queries of submissions."""

from django.db.models import QuerySet

from steve.models import Company
from submissions.models import Submission


def company_submissions(company: Company) -> QuerySet[Submission]:
    return Submission.objects.filter(company=company).select_related("workflow", "workflow_version")


def company_submission(company: Company, submission_id: str) -> Submission | None:
    return company_submissions(company).filter(pk=submission_id).first()
