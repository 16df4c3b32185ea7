"""Read queries of submissions."""

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
