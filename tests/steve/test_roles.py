"""Roles in the review UI: what viewers, reviewers and leads may do, and where people land.

Every review action is tried by every role; a refused action is a 403 that changes
nothing, an allowed one does what it says.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fraud.models import FraudMatch
from steve.accounts import Action, membership_allows
from steve.models import Membership
from submissions.models import Submission
from tests import factories
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db
R = Membership.Role


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def held_by_someone_else(company, submission: Submission) -> None:
    other = factories.member(company)
    Submission.objects.filter(pk=submission.pk).update(
        claimed_by=other, claimed_until=timezone.now() + timedelta(minutes=10)
    )


def with_match(company, submission: Submission) -> FraudMatch:
    return FraudMatch.objects.create(
        company=company, submission=submission, check_type="tampering", score=80, similarity=0.8
    )


def state(submission: Submission) -> tuple:
    submission.refresh_from_db()
    resolutions = tuple(submission.fraud_matches.values_list("resolution", flat=True))
    comments = submission.events.filter(type="comment").count()
    return (
        submission.status,
        submission.claimed_by_id,
        submission.extracted_data,
        resolutions,
        comments,
    )


# (name, method, url name, data, setup): setup prepares the submission for the action.
ACTIONS = {
    "approve": ("post", "review:approve", {}, None),
    "reject": ("post", "review:reject", {"reason": "Not a receipt."}, None),
    "cancel": ("post", "review:cancel", {"reason": "asked"}, None),
    "correct": ("post", "review:correct", {"field": "merchantName", "value": "Shop"}, None),
    "claim": ("post", "review:claim", {}, None),
    "comment": ("post", "review:comment", {"text": "Looks like a reprint."}, None),
    "release_others": ("post", "review:release", {}, held_by_someone_else),
    "false_positive": ("post", "fraud:resolve", {"resolution": "false_positive"}, with_match),
    "confirm_fraud": (
        "post",
        "fraud:resolve",
        {"resolution": "confirmed_fraud", "reason": "Same receipt submitted twice."},
        with_match,
    ),
    "stats": ("get", "review:stats", {}, None),
}
ALLOWED = {
    R.VIEWER: set(),
    R.REVIEWER: {"approve", "reject", "cancel", "correct", "claim", "comment", "false_positive"},
    R.LEAD: set(ACTIONS),
}


def url_for(name: str, route: str, submission: Submission, match: FraudMatch | None) -> str:
    if name == "stats":
        return reverse(route)
    if route == "fraud:resolve":
        return reverse(route, args=[submission.pk, match.pk])
    return reverse(route, args=[submission.pk])


@pytest.mark.parametrize("role", [R.VIEWER, R.REVIEWER, R.LEAD])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_against_each_review_action(company, role, action):
    method, route, data, setup = ACTIONS[action]
    submission = submission_with_file(company)
    result = setup(company, submission) if setup else None
    match = result if isinstance(result, FraudMatch) else None
    client = login(factories.member(company, role))
    before = state(submission)
    body = {"version": Submission.objects.get(pk=submission.pk).version, **data}
    response = getattr(client, method)(url_for(action, route, submission, match), body)
    if action in ALLOWED[role]:
        assert response.status_code in {200, 303}, response.content[:300]
        assert action == "stats" or state(submission) != before
    else:
        assert response.status_code == 403
        assert state(submission) == before


def test_a_viewer_reads_the_submission_without_claiming_it_or_seeing_forms(company):
    submission = submission_with_file(company)
    with_match(company, submission)
    client = login(factories.member(company, R.VIEWER))
    page = client.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert submission.pk in page and "data-read-only" in page
    assert 'data-action="approve"' not in page and "review:claim" not in page
    assert 'data-action="comment"' not in page
    panel = client.get(reverse("fraud:panel", args=[submission.pk])).content.decode()
    assert "data-resolve" not in panel
    assert "Overview" not in page
    assert Submission.objects.get(pk=submission.pk).claimed_by is None


def test_a_reviewer_sees_false_positive_but_not_confirmed_fraud(company):
    submission = submission_with_file(company)
    with_match(company, submission)
    client = login(factories.member(company, R.REVIEWER))
    panel = client.get(reverse("fraud:panel", args=[submission.pk])).content.decode()
    assert 'data-resolve="false_positive"' in panel
    assert 'data-resolve="confirmed_fraud"' not in panel


def test_a_lead_is_offered_to_release_another_reviewers_claim(company):
    submission = submission_with_file(company)
    held_by_someone_else(company, submission)
    lead = login(factories.member(company, R.LEAD))
    page = lead.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert 'data-action="release-other"' in page
    reviewer = login(factories.member(company, R.REVIEWER))
    page = reviewer.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert 'data-action="release-other"' not in page


def test_staff_land_in_their_own_company_after_login(company):
    factories.CompanyFactory(name="AAA first by name")
    own = factories.CompanyFactory(name="Zeta")
    user = factories.member(own, R.REVIEWER, is_staff=True)
    client = Client()
    response = client.post(
        reverse("accounts:login"),
        {"username": user.username, "password": "correct-horse-battery"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/review/"
    assert response.context["review_company"] == own
    # Other companies are not even offered: staff see only their memberships.
    assert list(response.context["review_companies"]) == [own]


def test_plain_staff_without_a_membership_see_nothing(company):
    submission = submission_with_file(company)
    staff = login(factories.UserFactory(is_staff=True))
    assert staff.get(reverse("review:queue")).status_code == 403
    assert staff.get(reverse("review:detail", args=[submission.pk])).status_code == 403
    switched = staff.post(reverse("accounts:switch_company"), {"company": company.pk})
    assert switched.status_code == 404


def test_a_member_of_one_company_gets_404_for_anothers_submission(company):
    foreign = submission_with_file(factories.CompanyFactory())
    client = login(factories.member(company, R.LEAD))
    assert client.get(reverse("review:detail", args=[foreign.pk])).status_code == 404
    assert (
        client.post(reverse("review:approve", args=[foreign.pk]), {"version": 1}).status_code == 404
    )


def test_membership_allows_is_the_role_table(company):
    viewer, lead = factories.member(company, R.VIEWER), factories.member(company, R.LEAD)
    superuser = factories.UserFactory(is_superuser=True, is_staff=True)
    assert membership_allows(viewer, company, Action.VIEW)
    assert not membership_allows(viewer, company, Action.DECIDE)
    assert membership_allows(lead, company, Action.CONFIRM_FRAUD)
    assert membership_allows(superuser, company, Action.RELEASE_OTHERS)
    assert not membership_allows(lead, factories.CompanyFactory(), Action.VIEW)


def test_the_queue_shows_production_unless_sandbox_is_asked_for(company):
    production = submission_with_file(company)
    sandbox = submission_with_file(company, environment="sandbox")
    client = login(factories.member(company, R.REVIEWER))
    default = client.get(reverse("review:queue")).content.decode()
    assert production.pk in default and sandbox.pk not in default
    chosen = client.get(reverse("review:queue"), {"environment": "sandbox"}).content.decode()
    assert sandbox.pk in chosen and production.pk not in chosen
    page = client.get(reverse("review:detail", args=[sandbox.pk])).content.decode()
    assert 'data-environment="sandbox"' in page


@pytest.mark.parametrize(("role", "approves"), [(R.VIEWER, False), (R.REVIEWER, True)])
def test_bulk_approve_is_a_decision_a_viewer_may_not_make(company, role, approves):
    submission = submission_with_file(
        company, fraud_status="clean", confidence=0.97, review_flagged_fields=[]
    )
    client = login(factories.member(company, role))
    queue = client.get(reverse("review:queue")).content.decode()
    assert ('data-action="bulk-approve"' in queue) is approves
    before = state(submission)
    pick = f"{submission.pk}:{submission.version}"
    response = client.post(reverse("review:bulk_approve"), {"pick": [pick]})
    if approves:
        assert response.status_code == 303 and state(submission) != before
    else:
        assert response.status_code == 403 and state(submission) == before


def test_opening_an_action_address_opens_the_page_for_a_viewer_too(company):
    submission = submission_with_file(company)
    client = login(factories.member(company, R.VIEWER))
    response = client.get(reverse("review:approve", args=[submission.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("review:detail", args=[submission.pk]))
    outsider = login(factories.member(factories.CompanyFactory(), R.LEAD))
    assert outsider.get(reverse("review:approve", args=[submission.pk])).status_code == 404
    assert Submission.objects.get(pk=submission.pk).status == "review"


def test_a_companys_staff_with_admin_permissions_cannot_open_the_admin(company):
    from django.contrib.auth.models import Permission

    factories.SubmissionFactory(company=factories.CompanyFactory())
    staff = factories.member(company, R.LEAD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = login(staff)
    for url in ("/admin/", "/admin/submissions/submission/", "/admin/jobs/workflowsession/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
