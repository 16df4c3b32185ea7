"""Tenancy probes beyond the two sweeps (tests/steve/test_tenancy_sweep.py for the API,
tests/submissions/test_review_tenancy_sweep.py for the desk): credentials of one surface
used on the other, access taken away between two requests, and what a filter or a
cached copy could still tell a reviewer of another company."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from steve.models import Membership
from steve.services import api_key_revoke, workflow_publish
from submissions.models import Submission, SubmissionEvent
from tests import factories
from tests.jobs.test_sessions_api import jpeg_bytes, put
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db
ONLY_A = "a-only-expenses"  # a workflow slug company B does not have


@pytest.fixture
def a(db):
    company = factories.CompanyFactory(name="Acme A", slug="acme-a")
    factories.default_workflows(company)
    return company


@pytest.fixture
def b(db):
    company = factories.CompanyFactory(name="Company B", slug="company-b")
    factories.default_workflows(company)
    return company


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state(submission: Submission) -> tuple:
    submission.refresh_from_db()
    return (
        submission.status,
        submission.version,
        submission.extracted_data,
        submission.claimed_by_id,
    )


def test_a_reviewers_browser_session_is_no_key_to_the_api(a):
    """The desk's session cookie (a superuser's too) authenticates nothing under /api/v1/."""
    sub = submission_with_file(a)
    for user in (factories.member(a), factories.UserFactory(is_superuser=True, is_staff=True)):
        browser = signed_in(user)
        before = state(sub)
        for method, path in [
            ("get", "/api/v1/submissions"),
            ("get", f"/api/v1/submissions/{sub.pk}"),
            ("get", f"/api/v1/submissions/{sub.pk}/fraud-matches"),
            ("get", "/api/v1/webhook-endpoints"),
            ("get", "/api/v1/workflows"),
            ("post", f"/api/v1/submissions/{sub.pk}/approve"),
            ("post", f"/api/v1/submissions/{sub.pk}/corrections"),
        ]:
            response = getattr(browser, method)(path, {}, content_type="application/json")
            assert response.status_code == 401, (path, response.status_code)
            assert response.json()["code"] == "UNAUTHORIZED", path
        assert state(sub) == before


def test_an_api_key_opens_no_desk_page_and_decides_nothing(a):
    sub = submission_with_file(a)
    key = factories.api_key(a)
    before = state(sub)
    for header in (
        {"HTTP_AUTHORIZATION": f"Bearer {key.secret}"},
        {"HTTP_X_API_KEY": key.secret},
    ):
        client = APIClient()
        for path in ("/review/", f"/review/{sub.pk}/", f"/review/{sub.pk}/files/0", "/admin/"):
            response = client.get(path, **header)
            assert response.status_code == 302, (path, response.status_code)
            assert "/login/" in response["Location"], path
        for path in (f"/review/{sub.pk}/approve", f"/review/{sub.pk}/claim"):
            response = client.post(path, {"version": sub.version}, **header)
            assert response.status_code in (401, 403), (path, response.status_code)
    assert state(sub) == before
    assert not SubmissionEvent.objects.filter(submission=sub, type="claimed").exists()


def test_a_queue_filtered_by_another_companys_workflow_is_as_by_a_missing_one(a, b):
    """B's reviewer learns nothing from naming A's workflow slug in the queue's filter."""
    invoice = a.workflows.get(slug="invoice").latest
    workflow_publish(
        company=a,
        slug=ONLY_A,
        name="A-only expenses",
        kind=invoice.kind,
        upload=invoice.upload,
        output_schema=invoice.output_schema,
        review_threshold=80,
    )
    submission_with_file(b)
    reviewer = signed_in(factories.member(b))
    for path in ("/review/?status=all&workflow={}", "/review/rows?status=all&workflow={}"):
        foreign = reviewer.get(path.format(ONLY_A), HTTP_HX_REQUEST="true")
        missing = reviewer.get(path.format("no-such-flow"), HTTP_HX_REQUEST="true")
        assert foreign.status_code == missing.status_code == 200
        assert page_text(foreign, ONLY_A) == page_text(missing, "no-such-flow"), path


def page_text(response, slug: str) -> str:
    """The page with the slug asked for (repeated back as sent) and its masked CSRF
    tokens (new on every render) left out."""
    text = response.content.decode().replace(slug, "{slug}")
    return re.sub(r"[A-Za-z0-9]{64}", "{csrf}", text)


def test_a_removed_member_gets_no_304_for_a_page_image_kept_before(a, b):
    """A page image's ETag and versioned address, kept from before the membership was
    taken away, are answered 404 as for a stranger: never 304, which confirms the copy."""
    sub = submission_with_file(a)
    user = factories.UserFactory(companies=[a, b])
    client = signed_in(user)
    client.post("/accounts/company/", {"company": a.pk})
    page = client.get(f"/review/{sub.pk}/files/0/pages/0.png", follow=True)
    assert page.status_code == 200
    file = client.get(f"/review/{sub.pk}/files/0", follow=True)
    assert file.status_code == 200
    Membership.objects.filter(user=user, company=a).delete()
    for response, path in ((page, "/files/0/pages/0.png"), (file, "/files/0")):
        url = (
            response.redirect_chain[-1][0] if response.redirect_chain else f"/review/{sub.pk}{path}"
        )
        again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 404, (url, again.status_code)


def test_a_removed_member_decides_nothing_from_the_page_left_open(a, b):
    sub = submission_with_file(a)
    user = factories.UserFactory(companies=[a, b])
    client = signed_in(user)
    client.post("/accounts/company/", {"company": a.pk})
    assert client.get(f"/review/{sub.pk}/").status_code == 200
    Membership.objects.filter(user=user, company=a).delete()
    before = state(sub)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_X_DRAWN_FOR": str(user.pk)}
    for path, form in [
        (f"/review/{sub.pk}/approve", {"version": sub.version}),
        (
            f"/review/{sub.pk}/correct",
            {"version": sub.version, "field": "merchantName", "value": "x"},
        ),
        (f"/review/{sub.pk}/claim", {}),
        (f"/review/{sub.pk}/comment", {"text": "still here"}),
    ]:
        response = client.post(path, form, **htmx)
        assert response.status_code == 404, (path, response.status_code)
    assert state(sub) == before


def test_a_removed_member_with_no_company_left_sees_no_queue(a):
    sub = submission_with_file(a)
    user = factories.member(a)
    client = signed_in(user)
    assert client.get("/review/").status_code == 200
    Membership.objects.filter(user=user).delete()
    queue = client.get("/review/?status=all")
    assert queue.status_code == 403
    assert sub.pk not in queue.content.decode()
    assert client.get(f"/review/{sub.pk}/").status_code == 403


def test_a_key_revoked_between_two_requests_reaches_nothing_it_made(a):
    key = factories.api_key(a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    created = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "o-1"},
        format="json",
    ).json()
    url = created["uploadUrls"][0]["uploadUrl"]
    api_key_revoke(api_key=key.api_key)
    assert api.get(f"/api/v1/jobs/{created['sessionId']}").status_code == 403
    assert api.get(f"/api/v1/submissions/{created['submissionId']}").status_code == 403
    refused = put(APIClient(), url, jpeg_bytes())
    assert refused.status_code == 403 and refused.json()["code"] == "API_KEY_REVOKED"
    submit = api.post(
        f"/api/v1/workflows/receipt-ocr/sessions/{created['sessionId']}/submit", {}, format="json"
    )
    assert submit.status_code == 403
