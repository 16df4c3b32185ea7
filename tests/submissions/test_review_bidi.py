"""A person's or a document's value inside a sentence of the review desk is set apart in a
<bdi>: right-to-left text (Arabic, Hebrew), or a bidi override stored before extraction
dropped them, otherwise took the words, numbers and arrows after it into its own run,
reversing the rest of the line ("Claimed by דני until 14:30" drawn with the time before
the name, a timeline change drawn new value first)."""

import pytest
from django.urls import reverse

from submissions.models import SubmissionStatus
from submissions.services import Actor, submission_claim, submission_correct_field
from tests import factories
from tests.submissions.test_review_accessibility import Node, Tree, detail, page
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db

ARABIC = "مطعم الأمل 24"
HEBREW = "דני"
# Stored before extraction dropped bidi controls: an override left open.
OVERRIDDEN = "Acme \u202eHbmG"


def isolated(node: Node) -> list[str]:
    """The text of each <bdi> inside ``node``, in order."""
    return [n.text() for n in node.walk() if n.tag == "bdi"]


def first(tree: Tree, tag: str, **attrs: str) -> Node:
    found = [n for n in tree.all(tag) if all(attrs[k] in n.attrs.get(k, "").split() for k in attrs)]
    assert found, f"no <{tag}> with {attrs}"
    return found[0]


def test_a_changed_fields_old_and_new_values_are_isolated_in_the_timeline(ui, company):
    waiting = submission_with_file(company, extracted_data={"merchantName": OVERRIDDEN})
    submission_correct_field(
        submission_id=waiting.pk,
        field_name="merchantName",
        raw_value=ARABIC,
        actor=Actor.system(),
    )
    tree = detail(ui, waiting)
    change = first(tree, "div", **{"class": "change"})
    (old,) = [n for n in change.walk() if n.tag == "del"]
    (new,) = [n for n in change.walk() if n.tag == "ins"]
    assert isolated(old) == [OVERRIDDEN] and isolated(new) == [ARABIC]


def test_the_summary_isolates_the_issuer_and_invoice_number_it_names(ui, company):
    summary = (
        f"Invoice from {ARABIC} number {HEBREW}-7 dated 2024-01-05 for MYR 12.50; "
        "missing date. Receipt from <b>Kedai</b> with no readable date for MYR 1.00."
    )
    waiting = submission_with_file(company, ai_summary=summary)
    response = ui.get(reverse("review:detail", args=[waiting.pk]))
    shown = first(page(response), "p", **{"class": "summary"})
    assert isolated(shown) == [ARABIC, f"{HEBREW}-7", "<b>Kedai</b>"]
    assert shown.text() == summary  # nothing else changed, the name still escaped
    assert "&lt;b&gt;Kedai&lt;/b&gt;" in response.content.decode()


def test_the_holder_of_a_claim_is_isolated_from_the_time_after_it(ui, company):
    waiting = submission_with_file(company)
    holder = factories.UserFactory(username=HEBREW, companies=[company])
    submission_claim(submission_id=waiting.pk, user=holder)
    claim = first(detail(ui, waiting), "span", **{"class": "claimed-other"})
    assert isolated(claim) == [HEBREW]
    assert claim.text().startswith(f"Claimed by {HEBREW} until ")


def test_a_line_of_document_text_is_isolated_from_the_fields_named_after_it(ui, company):
    waiting = submission_with_file(
        company,
        pages_text=[f"{ARABIC}\nTOTAL 9.99"],
        evidence={"merchantName": [{"file": 0, "page": 0, "bbox": [0, 0, 1, 0.1], "line": 0}]},
    )
    line = detail(ui, waiting).by_id("text-0-0-0")
    assert isolated(line) == [ARABIC]
    assert line.text() == f"{ARABIC} Merchant name"


def test_what_each_file_read_and_what_the_schema_refused_are_isolated(ui, company):
    waiting = submission_with_file(
        company,
        evidence={
            "merchantName": [
                {"file": 0, "read": ARABIC, "confidence": 0.9},
                {"file": 1, "read": "Kedai", "confidence": 0.8},
            ],
            "totalAmount": [{"schema": "must be at most 100", "read": f"{HEBREW} 250"}],
        },
    )
    tree = detail(ui, waiting)
    disagreed = first(tree, "small", **{"class": "disagreed"})
    assert isolated(disagreed) == [ARABIC, "Kedai"]
    said = disagreed.text().replace(" ;", ";")  # text() puts a space between elements
    assert said == f"Files disagree: receipt 1 read {ARABIC}; file 2 read Kedai"
    refused = first(tree, "small", **{"class": "refused"})
    assert isolated(refused) == [f"{HEBREW} 250"]
    said = refused.text().replace(" ,", ",")
    assert said == f"Read {HEBREW} 250, not stored: must be at most 100"


def test_a_reason_and_an_events_details_are_isolated(ui, company):
    rejected = submission_with_file(
        company, status=SubmissionStatus.REJECTED, reject_reason=f"{HEBREW} 2"
    )
    rejected.events.create(type="rejected", details={"reason": ARABIC, "count": 2})
    tree = detail(ui, rejected)
    decided = first(tree, "div", **{"class": "decided"})
    assert isolated(decided) == [f"{HEBREW} 2"]
    details = first(tree, "div", **{"class": "details"})
    assert sorted(isolated(details)) == sorted([ARABIC, "2"])


def test_the_queue_isolates_a_merchant_name(ui, company):
    submission_with_file(company, extracted_data={"merchantName": OVERRIDDEN})
    tree = page(ui.get(reverse("review:queue")))
    assert isolated(first(tree, "td", **{"class": "merchant"})) == [OVERRIDDEN]
