"""Text read off a fraudster's upload, shown on every page that shows it: the review
desk's, the fraud panel's and the admin's. Whatever the name line or a line item says
(markup, an htmx attribute, a javascript: address, a template), it is shown as text: no
element, attribute or link of its own reaches the page."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from fraud.models import FraudMatch
from steve.models import Membership
from submissions.models import MerchantMemory, SubmissionEvent, SubmissionStatus
from tests import factories
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db

# Each breaks out of a text node, a double- or single-quoted attribute, or a <bdi>.
HOSTILE = (
    '<x-evil hx-get="/review/stats" hx-trigger="load">'
    '"><x-evil onload=alert(1)>'
    "'><x-evil onerror=alert(1)>"
    "</bdi></script><x-evil>{{7*7}}{% csrf_token %}"
)
LINK = "javascript:alert(document.domain)"


class Injected(HTMLParser):
    """The elements and attributes of a page that only the hostile text could have made."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.startswith("x-evil"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("onload", "onerror") or (
                name.startswith("hx-") and "stats" in (value or "")
            ):
                self.found.append(f"{tag} {name}={value!r}")
            if name in ("href", "src", "action") and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"{tag} {name}={value!r}")


def injected(html: str) -> list[str]:
    parser = Injected()
    parser.feed(html)
    return parser.found


@pytest.fixture
def hostile(company):
    """A submission in review whose every value read from its file is hostile, matched
    with an earlier one, with a comment, a remembered value and a fraud finding."""
    values = {
        "merchantName": HOSTILE,
        "merchantAddress": f"{LINK} {HOSTILE}",
        "receiptNumber": HOSTILE,
        "date": HOSTILE,
        "totalAmount": HOSTILE,
        "lineItems": [{"description": HOSTILE, "quantity": HOSTILE, "amount": HOSTILE}],
    }
    earlier = submission_with_file(company, status=SubmissionStatus.APPROVED, extracted_data=values)
    waiting = submission_with_file(
        company,
        extracted_data=values,
        pages_text=[f"{HOSTILE}\n{LINK}"],
        ai_summary=HOSTILE,
        metadata={HOSTILE: HOSTILE, "url": LINK},
        client_submission_id=HOSTILE[:200],
        evidence={"merchantName": [{"file": 0, "page": 0, "bbox": [0, 0, 1, 1], "line": 0}]},
    )
    FraudMatch.objects.create(
        company=company,
        submission=waiting,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.DATA,
        score=80.0,
        similarity=0.9,
        details={
            "merchant": HOSTILE,
            "receiptNumber": HOSTILE,
            "total": HOSTILE,
            "targetTotal": HOSTILE,
            "otherDate": {"date": HOSTILE, "targetDate": HOSTILE},
            "signals": [{"signal": HOSTILE, "weight": HOSTILE}],
            HOSTILE: HOSTILE,
        },
    )
    waiting.fraud_status, waiting.fraud_score = "flagged", 80.0
    waiting.save(update_fields=["fraud_status", "fraud_score"])
    SubmissionEvent.objects.create(
        submission=waiting,
        type="comment",
        actor_type="user",
        actor_label=HOSTILE,
        details={"text": HOSTILE, "field": HOSTILE, "from": HOSTILE, "to": HOSTILE},
    )
    MerchantMemory.objects.create(
        company=company, key=f"name:{HOSTILE}"[:160], field="merchantName", value=HOSTILE
    )
    return waiting, earlier


def desk_pages(waiting, earlier) -> list[str]:
    return [
        reverse("review:queue"),
        reverse("review:queue") + "?status=all",
        reverse("review:queue_rows"),
        reverse("review:stats"),
        reverse("review:detail", args=[waiting.pk]),
        reverse("review:detail", args=[waiting.pk]) + "?part=side",
        reverse("review:detail", args=[earlier.pk]),
        reverse("fraud:panel", args=[waiting.pk]),
        reverse("fraud:compare", args=[waiting.pk, earlier.pk]),
    ]


def admin_pages(waiting, earlier) -> list[str]:
    match = FraudMatch.objects.get(submission=waiting)
    memory = MerchantMemory.objects.get(company=waiting.company)
    event = SubmissionEvent.objects.filter(submission=waiting).latest("occurred_at")
    file = waiting.files.get()
    pages = [
        reverse("admin:submissions_submission_change", args=[waiting.pk]),
        reverse("admin:submissions_submissionevent_change", args=[event.pk]),
        reverse("admin:submissions_submissionfile_change", args=[file.pk]),
        reverse("admin:submissions_merchantmemory_change", args=[memory.pk]),
        reverse("admin:fraud_fraudmatch_change", args=[match.pk]),
    ]
    for model in ("submission", "submissionevent", "submissionfile", "merchantmemory"):
        pages.append(reverse(f"admin:submissions_{model}_changelist"))
    pages.append(reverse("admin:fraud_fraudmatch_changelist"))
    # A search for the hostile text shows it back in the search box and the result count.
    pages.append(reverse("admin:submissions_merchantmemory_changelist") + "?q=" + LINK)
    return pages


def test_the_desk_shows_hostile_text_read_off_an_upload_as_text(company, hostile):
    waiting, earlier = hostile
    ui = Client()  # a lead: the overview is theirs
    ui.force_login(factories.member(company, Membership.Role.LEAD))
    for url in desk_pages(waiting, earlier):
        for headers in ({}, {"HX-Request": "true"}):
            response = ui.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
            assert injected(response.content.decode()) == [], url


def test_the_admin_shows_hostile_text_read_off_an_upload_as_text(hostile):
    waiting, earlier = hostile
    operator = Client()
    operator.force_login(
        get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    )
    for url in admin_pages(waiting, earlier):
        response = operator.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert injected(response.content.decode()) == [], url
