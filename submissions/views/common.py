"""What the review views share: the reviewer's own submission and the queue's filters,
which travel from the queue to the submission page and back in the query string."""

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django_htmx.http import trigger_client_event

from steve.models import Environment
from submissions.forms import QueueFilterForm
from submissions.models import Submission, SubmissionStatus
from submissions.selectors import company_submission, workflow_choices

# How much of a typed text (a reason, a comment, a correction, a description) is read: far
# past every limit the services set (2,000), so that a longer text is refused saying so
# and a refused plain post brings the whole of it back to be shortened; bounded, as that
# comes back through the session, and a longer one's page says it was cut (_cut_notes).
TYPED_MAX = 5000


# Filter values left out of links: the queue shows them when nothing is said.
DEFAULTS = {"status": SubmissionStatus.REVIEW, "environment": Environment.PRODUCTION, "sort": "age"}


def own_submission(request: HttpRequest, submission_id: str) -> Submission:
    """The submission if it is the reviewer's company's; another's is a 404 like a
    submission that does not exist."""
    submission = company_submission(request.company, submission_id)
    if submission is None:
        raise Http404("No such submission.")
    return submission


def tell_the_page(response: HttpResponse, event: str) -> HttpResponse:
    """An HX-Trigger event for the page's other regions (their `from:body` listeners).
    Sent to body, not to the element that made the request: a form swapped out while its
    request was in flight (the column redrawn meanwhile) is off the page when the answer
    comes, and the event, fired on it, reached no listener."""
    return trigger_client_event(response, event, {"target": "body"})


def queue_filters(request: HttpRequest) -> dict[str, str]:
    form = QueueFilterForm(request.GET or None, workflows=workflow_choices(request.company))
    return form.values()


def submission_queue_filters(request: HttpRequest, submission: Submission) -> dict[str, str]:
    """The queue a submission page walks (j/k) and goes on to after a decision: the
    request's filters in the submission's own environment. A sandbox page reached by a
    bare link (stats, fraud compare, admin) otherwise walked production's queue, and
    approving a test receipt opened a real one."""
    return {**queue_filters(request), "environment": submission.environment}


def fraud_pairs_asked(request: HttpRequest) -> int | None:
    """How many fraud pairs the reviewer asked the panel to draw (?pairs=N, its "Show
    more" link): a positive whole number of at most 6 digits, else None (the panel's first
    page). The bound keeps a hostile ?pairs=10**40 from being read as a count at all.
    ASCII digits only: "²".isdigit() is true, and int() refused it (a 500)."""
    asked = request.GET.get("pairs", "")
    if not (asked.isascii() and asked.isdigit()) or len(asked) > 6 or int(asked) < 1:
        return None
    return int(asked)


def queue_query(filters: dict[str, str], **overrides: str) -> str:
    """The filters as a query string, defaults left out."""
    params = QueryDict(mutable=True)
    for key, value in {**filters, **overrides}.items():
        if value and DEFAULTS.get(key) != value:
            params[key] = value
    return params.urlencode()


def cut_note(label: str, *, sent: int, limit: int) -> str:
    """What the page says of a typed text that came back cut to TYPED_MAX: how long it
    was, how much came back, and how short it must be to be saved."""
    return (
        f"Your {label} was {sent:,} characters: only its first {TYPED_MAX:,} came back"
        f" below, and at most {limit:,} can be saved."
    )
