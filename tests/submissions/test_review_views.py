"""The review UI's pages, partials and actions, through Django's test client."""

import io
import json
import re
import time
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from submissions.services import (
    CORRECTION_MAX,
    MAX_LINE_ITEMS,
    Actor,
    submission_claim,
    submission_correct_field,
    submission_reject,
)
from submissions.templatetags.review_tags import row_changes
from tests import factories
from tests.submissions.test_lock_order import responses_at_once
from tests.submissions.test_review_support import (
    flag,
    page_told,
    pdf_bytes,
    png_bytes,
    stored_file,
    submission_with_file,
)

pytestmark = pytest.mark.django_db
S = SubmissionStatus


@pytest.fixture
def waiting(company):
    return submission_with_file(company)


@pytest.fixture
def foreign():
    return submission_with_file(factories.CompanyFactory())


def detail_url(submission: Submission) -> str:
    return reverse("review:detail", args=[submission.pk])


def action_url(name: str, submission: Submission) -> str:
    return reverse(f"review:{name}", args=[submission.pk])


# --- Access control ------------------------------------------------------------------------


def page_urls(submission: Submission) -> list[str]:
    return [
        reverse("review:queue"),
        reverse("review:queue_rows"),
        reverse("review:stats"),
        detail_url(submission),
        reverse("review:file", args=[submission.pk, 0]),
        reverse("review:file_page", args=[submission.pk, 0, 0]),
        reverse("fraud:panel", args=[submission.pk]),
    ]


def action_urls(submission: Submission) -> list[str]:
    names = ["approve", "reject", "cancel", "correct", "claim", "release"]
    return [action_url(n, submission) for n in names] + [
        reverse("fraud:resolve", args=[submission.pk, "fm_x"])
    ]


def test_anonymous_is_sent_to_login_everywhere(waiting):
    client = Client()
    for url in page_urls(waiting):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for url in action_urls(waiting):
        # A form posted: a 401 page saying nothing was saved, with the sign-in link
        # (tests/submissions/test_signed_out_plain_posts.py).
        response = client.post(url, {"version": waiting.version})
        assert response.status_code == 401, url
        assert response.context["sign_in"].startswith("/accounts/login/?next="), url
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_signing_in_again_after_a_plain_post_lands_on_the_page_not_a_405(waiting, reviewer):
    """Without JavaScript a form posted after the sign-in expired leads to the login form
    (a redirect, or the 401 page's link), whose `next` is the form's address; signing in
    then GETs it. Every form of the desk must answer that GET with the page the form was
    on (filters kept), not "405"."""
    posted = [
        *(f"{url}?q=tesco" for url in action_urls(waiting)),
        reverse("fraud:resolve_pair", args=[waiting.pk]) + "?q=tesco",
        reverse("fraud:undo", args=[waiting.pk]) + "?q=tesco",
        reverse("review:bulk_approve") + "?q=tesco",
        reverse("accounts:switch_company") + "?q=tesco",
    ]
    for url in posted:
        client = Client()
        login = client.post(url, {"version": waiting.version})
        assert login.status_code in (302, 401), url
        link = login["Location"] if login.status_code == 302 else login.context["sign_in"]
        next_url = link.split("next=", 1)[1]
        client.force_login(reviewer)
        landed = client.get(unquote(next_url), follow=True)
        assert landed.status_code == 200, url
        page = detail_url(waiting)
        if "bulk" in url or "company" in url:
            page = reverse("review:queue")
        elif "/fraud/" in url:  # the panel's own page: where the plain forms are
            page = reverse("fraud:panel", args=[waiting.pk])
        expected = page if "company" in url else f"{page}?q=tesco"
        assert landed.redirect_chain[-1][0] == expected, url
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_an_expired_session_sends_htmx_requests_to_login(waiting):
    response = Client().get(
        reverse("review:queue_rows"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/review/?fraud=flagged",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Freview%2F%3Ffraud%3Dflagged"


def test_an_expired_session_refuses_htmx_saves_with_401_and_keeps_the_page(waiting):
    for url in action_urls(waiting):
        response = Client().post(
            url,
            {"version": waiting.version, "reason": "x"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver/review/{waiting.pk}/",
        )
        # No HX-Redirect: the page stays, with what was typed, and says why (review.js).
        assert response.status_code == 401, url
        assert "HX-Redirect" not in response, url
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def sign_in(client: Client, user) -> None:
    token = str(client.get(reverse("accounts:login")).context["csrf_token"])
    form = {"username": user.username, "password": "correct-horse-battery"}
    response = client.post(reverse("accounts:login"), {**form, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_a_save_with_the_token_of_a_sign_in_since_renewed_gets_the_current_token(
    reviewer, waiting, settings
):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewer)
    stale = str(client.get(detail_url(waiting)).context["csrf_token"])
    del client.cookies[settings.SESSION_COOKIE_NAME]  # her sign-in lapsed
    sign_in(client, reviewer)  # again, in another tab: a sign-in rotates the token
    post = {"version": waiting.version, "field": "totalAmount", "value": "60"}
    answer = client.post(
        action_url("correct", waiting), post, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=stale
    )
    assert answer.status_code == 403
    renewed = answer["X-CSRF-Token"]
    # The page's retry, with the token it was handed, goes through; a plain post gets none.
    retry = client.post(
        action_url("correct", waiting), post, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=renewed
    )
    assert retry.status_code == 200
    assert "X-CSRF-Token" not in client.post(action_url("correct", waiting), post)


def test_a_plain_form_post_with_a_renewed_token_gets_a_page_that_says_so_not_a_bare_403(
    reviewer, waiting, settings
):
    """Without JavaScript the form posts itself: the refusal is a page of the desk that
    says nothing was saved, shows what the form carried and leads back to the page."""
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewer)
    stale = str(client.get(detail_url(waiting)).context["csrf_token"])
    del client.cookies[settings.SESSION_COOKIE_NAME]
    sign_in(client, reviewer)  # again, in another tab: the token rotates
    post = {"version": waiting.version, "field": "totalAmount", "value": "60.15"}
    answer = client.post(action_url("correct", waiting), {**post, "csrfmiddlewaretoken": stale})
    assert answer.status_code == 403 and "X-CSRF-Token" not in answer
    text = answer.content.decode()
    assert "nothing was saved or decided" in text
    assert f"You are signed in as {reviewer.username}" in text
    assert 'totalAmount: <span class="typed">60.15</span>' in text
    assert f'href="{detail_url(waiting)}" data-back' in text
    assert "CSRF verification failed" not in text  # Django's bare page
    waiting.refresh_from_db()
    assert not waiting.events.filter(type="field_corrected").exists()


def test_a_refused_post_from_another_site_shows_nothing_it_carried(reviewer, waiting):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewer)
    token = str(client.get(detail_url(waiting)).context["csrf_token"])
    post = {"version": waiting.version, "reason": "Call 0800 FRAUD", "csrfmiddlewaretoken": token}
    answer = client.post(
        action_url("reject", waiting), post, HTTP_ORIGIN="https://elsewhere.example"
    )
    assert answer.status_code == 403
    assert b"nothing was saved" in answer.content
    assert b"0800 FRAUD" not in answer.content
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_an_htmx_post_from_another_site_is_refused_as_a_plain_one_without_a_token(
    reviewer, waiting
):
    """The current token is handed to the desk's own page, whose token a sign-in in
    another tab rotated; a request another site's page sent (refused for its Origin or
    Referer, whatever token it carried) is no such page, and is handed none."""
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewer)
    token = str(client.get(detail_url(waiting)).context["csrf_token"])
    post = {"version": waiting.version, "field": "totalAmount", "value": "60"}
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_X_DRAWN_FOR": str(reviewer.pk)}
    for sent in (token, "x" * 64):
        answer = client.post(
            action_url("correct", waiting),
            post,
            HTTP_X_CSRFTOKEN=sent,
            HTTP_ORIGIN="https://elsewhere.example",
            **htmx,
        )
        assert answer.status_code == 403 and "X-CSRF-Token" not in answer
        assert b"nothing was saved" in answer.content
    # The same page's own stale token is still handed the current one.
    answer = client.post(action_url("correct", waiting), post, HTTP_X_CSRFTOKEN="x" * 64, **htmx)
    assert answer.status_code == 403 and "X-CSRF-Token" in answer
    waiting.refresh_from_db()
    assert not waiting.events.filter(type="field_corrected").exists()


def test_a_signed_out_pages_refused_token_is_no_other_user(reviewer, waiting):
    """Cookies cleared (signed out everywhere): the CSRF refusal hands over a token, as
    for a signed-in page, and never says "signed in as someone else"."""
    client = Client(enforce_csrf_checks=True)
    post = {"version": waiting.version, "field": "totalAmount", "value": "60"}
    drawn_for = {"HTTP_HX_REQUEST": "true", "HTTP_X_DRAWN_FOR": str(reviewer.pk)}
    answer = client.post(
        action_url("correct", waiting), post, HTTP_X_CSRFTOKEN="x" * 64, **drawn_for
    )
    assert answer.status_code == 403 and "X-CSRF-Token" in answer
    assert b"signed in as" not in answer.content


def test_a_save_from_a_page_drawn_for_another_user_is_refused_with_a_reload_message(
    reviewer, company, waiting, settings
):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewer)
    page = client.get(detail_url(waiting))
    assert f'"X-Drawn-For": "{reviewer.pk}"' in page.content.decode()
    stale = str(page.context["csrf_token"])
    bob = factories.UserFactory(companies=[company])
    del client.cookies[settings.SESSION_COOKIE_NAME]  # signed out, then in another tab
    sign_in(client, bob)  # as someone else
    post = {"version": waiting.version, "field": "totalAmount", "value": "60"}
    drawn_for = {"HTTP_HX_REQUEST": "true", "HTTP_X_DRAWN_FOR": str(reviewer.pk)}
    answer = client.post(action_url("correct", waiting), post, HTTP_X_CSRFTOKEN=stale, **drawn_for)
    assert answer.status_code == 403 and "X-CSRF-Token" not in answer
    assert f"you are now signed in as {bob.username}" in answer.content.decode()
    assert "reload the page" in answer.content.decode()
    # Even with a current token, the old page does not act as bob.
    current = str(client.get(detail_url(waiting)).context["csrf_token"])
    answer = client.post(
        action_url("correct", waiting), post, HTTP_X_CSRFTOKEN=current, **drawn_for
    )
    assert answer.status_code == 403 and b"reload the page" in answer.content
    waiting.refresh_from_db()
    assert not waiting.events.filter(type="field_corrected").exists()


def test_another_companys_submission_is_404(ui, foreign):
    for url in page_urls(foreign)[3:]:
        assert ui.get(url).status_code == 404, url
    for url in action_urls(foreign):
        assert ui.post(url, {"version": foreign.version, "reason": "x"}).status_code == 404, url
    foreign.refresh_from_db()
    assert foreign.status == S.REVIEW
    assert foreign.claimed_by is None


def test_a_user_without_a_company_is_refused(company):
    client = Client()
    client.force_login(factories.UserFactory())
    response = client.get(reverse("review:queue"))
    assert response.status_code == 403
    assert b"not a member of a company" in response.content


def test_staff_and_members_switch_company_in_the_session(company, waiting, foreign):
    user = factories.UserFactory(companies=[company, foreign.company])
    client = Client()
    client.force_login(user)
    first = client.get(reverse("review:queue")).content.decode()
    assert waiting.pk in first and 'name="company"' in first
    assert f'<option value="{foreign.company_id}"' in first
    assert client.get(detail_url(foreign)).status_code == 404
    response = client.post(reverse("accounts:switch_company"), {"company": foreign.company_id})
    assert response.status_code == 303
    queue = client.get(reverse("review:queue")).content
    assert foreign.pk.encode() in queue and waiting.pk.encode() not in queue
    assert client.get(detail_url(foreign)).status_code == 200
    # A company the user does not belong to cannot be chosen.
    other = factories.CompanyFactory()
    assert client.post(reverse("accounts:switch_company"), {"company": other.pk}).status_code == 404


def test_superusers_may_switch_to_any_company_and_the_page_says_so(foreign):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    client.post(reverse("accounts:switch_company"), {"company": foreign.company_id})
    page = client.get(detail_url(foreign))
    assert page.status_code == 200 and b"data-visiting" in page.content


def test_security_headers_on_review_pages(ui, waiting):
    response = ui.get(detail_url(waiting))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    # No inline script or handler in the page itself.
    html = response.content.decode()
    assert "<script>" not in html and " onclick=" not in html
    assert 'src="/static/django_htmx/htmx-2.min.js"' in html


def test_review_pages_with_personal_data_are_kept_by_no_cache(company, waiting):
    lead = factories.member(company, role=Membership.Role.LEAD)
    client = Client()
    client.force_login(lead)
    urls = [
        reverse("review:queue"),
        reverse("review:queue_rows"),
        reverse("review:stats"),
        detail_url(waiting),
        reverse("fraud:panel", args=[waiting.pk]),
        reverse("fraud:compare", args=[waiting.pk, waiting.pk]),
        reverse("accounts:password_change"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        cache_control = response["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, url
    # A file chose its own (private: only the reviewer's browser keeps it).
    file = client.get(reverse("review:file", args=[waiting.pk, 0]))
    assert file["Cache-Control"].startswith("private")


def test_the_dev_server_loads_htmx_without_django_htmx_debug_script(ui, waiting, settings):
    # That script replaced the whole page with a 400/403/404/500 answer (scripts/dev).
    settings.DEBUG = True
    html = ui.get(detail_url(waiting)).content.decode()
    assert 'src="/static/django_htmx/htmx-2.min.js"' in html
    assert "django-htmx.js" not in html


def test_login_logout_and_password_change(reviewer):
    client = Client()
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200 and b"Sign in" in response.content
    response = client.post(
        reverse("accounts:login"),
        {"username": reviewer.username, "password": "correct-horse-battery"},
    )
    assert response.status_code == 302 and response["Location"] == "/review/"
    assert client.get(reverse("accounts:password_change")).status_code == 200
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "a-much-longer-passphrase-9",
            "new_password2": "a-much-longer-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("review:queue")).status_code == 302


# --- Queue -----------------------------------------------------------------------------------


def test_queue_shows_review_oldest_first_with_counts(ui, company):
    first = submission_with_file(company)
    second = submission_with_file(company)
    approved = submission_with_file(company, status=S.APPROVED)
    response = ui.get(reverse("review:queue"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(first.pk) < html.index(second.pk)
    assert approved.pk not in html
    counts = {tab["value"]: tab["count"] for tab in response.context["counts"]}
    assert counts["review"] == 2 and counts["created"] == 0
    # The decided are every submission ever had: their tabs (and All's) are uncounted.
    assert counts["approved"] is None and counts["all"] is None
    assert '<span class="count">' not in html.split('id="status-tab-approved"')[1].split("</a>")[0]


def test_queue_filters_are_in_the_url(ui, company, workflows):
    receipt = submission_with_file(company, extracted_data={"merchantName": "Tesco Extra"})
    invoice = factories.SubmissionFactory(
        company=company,
        workflow_version=workflows[1],
        workflow=workflows[1].workflow,
        extracted_data={"vendorName": "Acme Supplies"},
        fraud_status="flagged",
    )
    cancelled = submission_with_file(company, status=S.CANCELLED)

    def shown(**params: str) -> set[str]:
        rows = ui.get(reverse("review:queue"), params).context["rows"]
        return {s.pk for s in rows}

    assert shown(workflow="invoice") == {invoice.pk}
    assert shown(fraud="flagged") == {invoice.pk}
    assert shown(status="cancelled") == {cancelled.pk}
    assert shown(status="all") == {receipt.pk, invoice.pk, cancelled.pk}
    assert shown(q="tesco") == {receipt.pk}
    assert shown(q="acme") == {invoice.pk}
    assert shown(q=invoice.pk) == {invoice.pk}
    assert shown(q=receipt.client_submission_id) == {receipt.pk}
    # An unknown value falls back to the default instead of failing, and only that one.
    assert shown(status="bogus") == {receipt.pk, invoice.pk}
    assert shown(status="cancelled", claims="x", sort="bogus") == {cancelled.pk}
    assert shown(workflow="invoice", q="x" * 201) == {invoice.pk}


def row_ids(response) -> list[str]:
    return re.findall(r'<tr class="row" data-id="([^"]+)"', response.content.decode())


def test_rows_partial_pages_by_keyset_and_polls_the_loaded_window(ui, company, monkeypatch):
    from submissions import selectors

    monkeypatch.setattr(selectors, "QUEUE_PAGE", 2)
    subs = [submission_with_file(company) for _ in range(5)]
    first = ui.get(reverse("review:queue_rows"))
    assert row_ids(first) == [s.pk for s in subs[:2]]
    assert b"Load more" in first.content and b"<html" not in first.content
    assert b'id="queue-results"' in first.content and b'id="status-tabs"' in first.content
    more = ui.get(reverse("review:queue_rows"), {"after": subs[1].pk})
    assert row_ids(more) == [s.pk for s in subs[2:4]]
    assert b'id="queue-results"' not in more.content
    # The poll re-reads every loaded row; a decision elsewhere shows in place.
    Submission.objects.filter(pk=subs[0].pk).update(status=S.APPROVED)
    poll = ui.get(reverse("review:queue_rows"), {"upto": subs[3].pk})
    assert row_ids(poll) == [s.pk for s in subs[1:4]]
    assert b"Load more" in poll.content


def test_a_poll_up_to_an_id_past_every_row_counts_no_further_than_the_poll_window(
    ui, company, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from submissions import selectors

    monkeypatch.setattr(selectors, "POLL_WINDOW", 3)
    subs = [submission_with_file(company) for _ in range(5)]
    # "upto=zzz" was past every id: the count read the company's whole queue on each poll.
    # Rows are now found by their place in the order: an unknown one is not counted up to.
    poll = ui.get(reverse("review:queue_rows"), {"upto": "z" * 10_000})
    assert row_ids(poll) == [s.pk for s in subs[:3]]
    # Up to the last row, past the window: counted no further than the window.
    with CaptureQueriesContext(connection) as queries:
        poll = ui.get(reverse("review:queue_rows"), {"upto": subs[-1].pk})
    assert row_ids(poll) == [s.pk for s in subs[:3]]
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "FROM (SELECT" in q["sql"]]
    assert counts and all("LIMIT 3" in sql for sql in counts)


def test_queue_shows_age_and_who_holds_a_claim(ui, company):
    old = submission_with_file(company)
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=30))
    holder = factories.UserFactory(companies=[company], username="alice")
    submission_claim(submission_id=old.pk, user=holder)
    html = ui.get(reverse("review:queue")).content.decode()
    assert "sla-breached" in html and "1d 6h" in html
    assert 'class="holder"' in html and "alice" in html


# --- Submission page -------------------------------------------------------------------------


def test_detail_shows_fields_confidence_evidence_and_files(ui, company):
    submission = submission_with_file(
        company,
        extracted_data={"merchantName": "Kedai", "totalAmount": 12.5},
        field_confidences={"merchantName": 0.97, "totalAmount": 0.42},
        evidence={"totalAmount": [{"file": 0, "page": 0, "bbox": [0.1, 0.8, 0.5, 0.85]}]},
        metadata={"orderId": "A-1"},
    )
    response = ui.get(detail_url(submission))
    html = response.content.decode()
    assert response.status_code == 200
    rows = {f.name: f for f in response.context["fields"]}
    assert rows["totalAmount"].low and not rows["merchantName"].low
    assert 'class="field low"' in html
    assert "[0.1, 0.8, 0.5, 0.85]" in html
    assert reverse("review:file", args=[submission.pk, 0]) in html
    assert reverse("fraud:panel", args=[submission.pk]) in html
    assert "orderId" in html and submission.client_submission_id in html


def test_side_partial_refreshes_without_claiming(ui, waiting):
    response = ui.get(detail_url(waiting), {"part": "side"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="side"') and "<html" not in html
    assert f'name="version" value="{waiting.version}"' in html
    waiting.refresh_from_db()
    assert waiting.claimed_by is None


def test_pdf_pages_are_rendered_one_by_one(ui, company):
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=pdf_bytes(pages=2))
    response = ui.get(detail_url(submission))
    assert len(response.context["files"][0].pages) == 2
    page = ui.get(reverse("review:file_page", args=[submission.pk, 0, 1]))
    assert page.status_code == 200 and page["Content-Type"] == "image/png"
    assert page.content.startswith(b"\x89PNG")
    assert ui.get(reverse("review:file_page", args=[submission.pk, 0, 2])).status_code == 404
    # The original PDF downloads rather than opening under our origin.
    original = ui.get(reverse("review:file", args=[submission.pk, 0]))
    assert original["Content-Disposition"] == "attachment"


def test_file_is_streamed_for_own_company(ui, waiting):
    response = ui.get(reverse("review:file", args=[waiting.pk, 0]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert ui.get(reverse("review:file", args=[waiting.pk, 3])).status_code == 404


def test_a_polyglot_upload_that_failed_extraction_is_shown_without_running_or_a_500(ui, company):
    # JPEG magic bytes, then HTML: sniffed as a JPEG, undecodable, so its submission failed.
    polyglot = b"\xff\xd8\xff\xe0<html><script>alert(document.cookie)</script></html>"
    submission = factories.SubmissionFactory(company=company, status=S.FAILED)
    stored_file(submission, content=polyglot, mime="image/jpeg")
    assert ui.get(detail_url(submission)).status_code == 200
    page = ui.get(reverse("review:file_page", args=[submission.pk, 0, 0]))
    # Not drawn, with the download (not 404, which the desk reads as the file withdrawn).
    assert page.status_code == 422 and "damaged" in page.content.decode()
    original = ui.get(reverse("review:file", args=[submission.pk, 0]))
    # The bytes as the image they claim to be, never sniffed into a page that runs.
    assert original["Content-Type"] == "image/jpeg"
    assert original["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in original["Content-Security-Policy"]


def test_a_photo_whose_exif_has_text_in_a_tag_of_numbers_is_shown_upright_not_a_500(ui, company):
    from tests.jobs.test_hostile_files import jpeg_with_text_in_a_numeric_exif_tag

    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=jpeg_with_text_in_a_numeric_exif_tag(), mime="image/jpeg")
    page = ui.get(reverse("review:file_page", args=[submission.pk, 0, 0]))
    assert page.status_code == 200
    assert Image.open(io.BytesIO(page.content)).size == (20, 40)


@pytest.mark.parametrize("hostile", ["encrypted", "damaged", "inflating"])
def test_a_failed_pdf_that_cannot_be_opened_is_offered_as_a_download_not_a_500(
    ui, company, hostile
):
    """Its pages were never counted (extraction failed PASSWORD_REQUIRED,
    UNSUPPORTED_FILE or PROCESSING_ERROR past its memory cap), and counting them in the
    web process raised PdfiumError, or took what the catalog inflates to (384 MB here;
    2.2 GB for a 2-MB file): counted in a capped child, it is not opened at all."""
    from tests.jobs.fixtures_docs import InvoiceSpec, invoice_pdf, malformed_pdf
    from tests.jobs.test_hostile_files import pdf_inflating_to

    content = {
        "encrypted": lambda: invoice_pdf(InvoiceSpec(), password="s3cret"),
        "damaged": malformed_pdf,
        "inflating": lambda: pdf_inflating_to(384, catalog_inside=True),
    }[hostile]()
    submission = factories.SubmissionFactory(company=company, status=S.FAILED)
    stored_file(submission, content=content)
    response = ui.get(detail_url(submission))
    assert response.status_code == 200
    assert response.context["files"][0].pages == []
    assert reverse("review:file", args=[submission.pk, 0]) in response.content.decode()
    # Asked for anyway: not drawn, with the download (not 404: "the file was withdrawn").
    page = ui.get(reverse("review:file_page", args=[submission.pk, 0, 0]))
    assert page.status_code == 422
    assert reverse("review:file", args=[submission.pk, 0]) in page.content.decode()


def start_review(client: Client, submission: Submission, **data: str):
    return client.post(action_url("claim", submission), data, HTTP_HX_REQUEST="true")


def test_opening_a_submission_does_not_claim_it(ui, waiting):
    version = waiting.version
    html = ui.get(detail_url(waiting)).content.decode()
    assert 'data-action="start-review"' in html and "Nobody is reviewing this yet." in html
    waiting.refresh_from_db()
    assert waiting.claimed_by is None and waiting.version == version
    assert not waiting.events.filter(type="claimed").exists()


def test_start_review_claims_and_others_see_the_holder(ui, reviewer, company, waiting):
    response = start_review(ui, waiting)
    assert response.status_code == 200 and b"You are reviewing this until" in response.content
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer and waiting.claimed_until > timezone.now()
    assert waiting.events.filter(type="claimed", actor_id=str(reviewer.pk)).count() == 1
    version = waiting.version
    # Starting again renews without a new event or version.
    start_review(ui, waiting)
    waiting.refresh_from_db()
    assert waiting.version == version and waiting.events.filter(type="claimed").count() == 1

    other = Client()
    other.force_login(factories.UserFactory(companies=[company]))
    html = other.get(detail_url(waiting)).content.decode()
    assert f"Claimed by <strong><bdi>{reviewer.username}</bdi></strong>" in html
    assert 'data-action="take-over"' in html and 'data-action="release-other"' not in html
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer


def test_a_claims_deadline_reads_in_the_apis_one_timestamp_format(ui, api, waiting):
    # The claimed event's claimedUntil was Python's isoformat ("...T14:52:03.680084+00:00")
    # while every other timestamp of the API reads "...T14:52:03.680Z" (DESIGN.md).
    start_review(ui, waiting)
    events = api.get(f"/api/v1/submissions/{waiting.pk}").json()["events"]
    [claimed] = [event for event in events if event["type"] == "claimed"]
    until = claimed["details"]["claimedUntil"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", until), until


def test_a_claimed_submission_refuses_another_reviewers_decisions(ui, reviewer, company, waiting):
    start_review(ui, waiting)
    waiting.refresh_from_db()
    other = Client()
    other.force_login(factories.UserFactory(companies=[company]))
    version = waiting.version
    for name, data in [
        ("approve", {}),
        ("reject", {"reason": "Blurry."}),
        ("cancel", {}),
        ("correct", {"field": "merchantName", "value": "X"}),
    ]:
        response = other.post(action_url(name, waiting), {"version": version, **data}, follow=True)
        assert f"{reviewer.username} is reviewing this submission" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW and waiting.version == version
    assert not waiting.events.filter(type="field_corrected").exists()


def test_releasing_a_claim_someone_took_over_meanwhile_says_who_holds_it(
    ui, reviewer, company, waiting
):
    html = start_review(ui, waiting).content.decode()
    assert 'name="mine"' in html  # the holder's own Release button
    bob = factories.UserFactory(companies=[company])
    other = Client()
    other.force_login(bob)
    start_review(other, waiting, take_over_from=reviewer.username)
    response = ui.post(action_url("release", waiting), {"mine": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409, response.content[:300]
    assert f"{bob.username} is reviewing this submission".encode() in response.content
    assert b'id="side"' in response.content  # the side column, not a "not allowed" page
    waiting.refresh_from_db()
    assert waiting.claimed_by == bob


def test_a_claims_end_is_shown_as_a_utc_time(ui, reviewer, company, waiting):
    # Times on the desk are UTC (TIME_ZONE); a bare "until 09:40" read as local time
    # told a reviewer in UTC+8 their claim had hours left when it ended in minutes.
    start_review(ui, waiting)
    waiting.refresh_from_db()
    until = f"{waiting.claimed_until:%H:%M} UTC"
    assert f"You are reviewing this until {until}." in ui.get(detail_url(waiting)).content.decode()
    other = Client()
    other.force_login(factories.UserFactory(companies=[company]))
    html = other.get(detail_url(waiting)).content.decode()
    assert f"Claimed by <strong><bdi>{reviewer.username}</bdi></strong> until {until} " in html


def test_the_timeline_and_the_queue_say_their_times_are_utc(ui, waiting):
    # The timeline's "Dec 6 09:40:12" and the queue's due "Dec 6 11:40" were UTC (TIME_ZONE)
    # without saying so, beside a claim's end and a decision that did.
    start_review(ui, waiting)
    event = waiting.events.get(type="claimed")
    html = ui.get(detail_url(waiting)).content.decode()
    assert f">{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC</time>" in html
    until = waiting.events.get(type="claimed").details["claimedUntil"]
    assert f"claimedUntil: <bdi>{until[:10]} {until[11:16]} UTC</bdi>" in html
    queue = ui.get(reverse("review:queue")).content.decode()
    due = re.search(r'<td class="due[^"]*" data-label="Due"><time [^>]*>([^<]*)</time>', queue)
    assert due and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", due.group(1)), due


def test_taking_over_a_claim_is_recorded_and_then_allowed(ui, reviewer, company, waiting):
    start_review(ui, waiting)
    bob = factories.UserFactory(companies=[company])
    other = Client()
    other.force_login(bob)
    response = start_review(other, waiting)
    assert response.status_code == 409 and b"is reviewing this submission" in response.content
    response = start_review(other, waiting, take_over_from=reviewer.username)
    assert response.status_code == 200 and b"You are reviewing this until" in response.content
    waiting.refresh_from_db()
    assert waiting.claimed_by == bob
    event = waiting.events.get(type="claim_taken_over")
    assert event.actor_label == bob.username and event.details["takenFrom"] == reviewer.username
    response = other.post(action_url("approve", waiting), {"version": waiting.version})
    assert response.status_code == 303
    waiting.refresh_from_db()
    assert waiting.status == S.APPROVED
    # The first reviewer's page is now stale: their approve is refused, nothing changes twice.
    assert waiting.events.filter(type="approved").count() == 1


def test_a_take_over_of_a_claim_that_changed_hands_meanwhile_is_refused(
    ui, reviewer, company, waiting
):
    start_review(ui, waiting)
    bob, carol = (factories.UserFactory(companies=[company]) for _ in range(2))
    bob_client, carol_client = Client(), Client()
    bob_client.force_login(bob)
    carol_client.force_login(carol)
    # Both pages show the reviewer's claim; both press Take over, Bob first.
    for client in (bob_client, carol_client):
        assert f'name="take_over_from" value="{reviewer.username}"' in (
            client.get(detail_url(waiting)).content.decode()
        )
    assert start_review(bob_client, waiting, take_over_from=reviewer.username).status_code == 200
    response = start_review(carol_client, waiting, take_over_from=reviewer.username)
    assert response.status_code == 409
    assert f"{bob.username} took this submission over meanwhile".encode() in response.content
    waiting.refresh_from_db()
    assert waiting.claimed_by == bob
    assert waiting.events.filter(type="claim_taken_over").count() == 1
    # Having now seen Bob's name, Carol may take it from him.
    assert start_review(carol_client, waiting, take_over_from=bob.username).status_code == 200
    waiting.refresh_from_db()
    assert waiting.claimed_by == carol


def test_a_stale_claim_is_taken_without_asking(ui, reviewer, company, waiting):
    first = factories.UserFactory(companies=[company])
    submission_claim(submission_id=waiting.pk, user=first)
    Submission.objects.filter(pk=waiting.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    ui.get(detail_url(waiting))
    waiting.refresh_from_db()
    assert waiting.claimed_by == first  # viewing takes nothing
    start_review(ui, waiting)
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer
    event = waiting.events.filter(type="claimed").first()
    assert event.details["expiredClaimOf"] == first.username


def test_a_reviewer_whose_own_claim_lapsed_renews_it_instead_of_taking_an_expired_claim(
    ui, reviewer, waiting
):
    # Nobody held it since (a take-over or a release changes the holder), so acting again
    # after a pause is the renewal it would have been a second earlier: no `claimed` event
    # naming the reviewer as the expired holder, and the handling time still counts from
    # when they started.
    start_review(ui, waiting)
    Submission.objects.filter(pk=waiting.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    waiting.refresh_from_db()
    version = waiting.version
    response = ui.post(
        action_url("correct", waiting),
        {"field": "merchantName", "value": "Acme", "version": version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer and waiting.claimed_until > timezone.now()
    claims = waiting.events.filter(type__in=["claimed", "claim_taken_over"])
    assert [e.details.get("expiredClaimOf") for e in claims] == [None]


def test_release_and_claim_again(ui, reviewer, waiting):
    start_review(ui, waiting)
    response = ui.post(action_url("release", waiting))
    assert response.status_code == 303
    waiting.refresh_from_db()
    assert waiting.claimed_by is None
    assert waiting.events.filter(type="claim_released").exists()
    response = start_review(ui, waiting)
    assert response.status_code == 200 and page_told(response) == "submission-changed"
    assert b"You are reviewing this until" in response.content
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer


def test_only_the_holder_or_a_lead_releases_a_claim(ui, reviewer, company, waiting):
    start_review(ui, waiting)
    peer = Client()
    peer.force_login(factories.UserFactory(companies=[company]))
    response = peer.post(action_url("release", waiting), HTTP_HX_REQUEST="true")
    assert response.status_code == 403  # a reviewer's role may not release others' claims
    waiting.refresh_from_db()
    assert waiting.claimed_by == reviewer

    lead = factories.UserFactory(companies=[company], is_superuser=True)
    boss = Client()
    boss.force_login(lead)
    assert b'data-action="release-other"' in boss.get(detail_url(waiting)).content
    response = boss.post(action_url("release", waiting), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.claimed_by is None
    event = waiting.events.get(type="claim_released")
    assert event.actor_label == lead.username
    assert event.details == {"releasedClaimOf": reviewer.username}


def test_my_claims_filter_shows_only_what_i_hold(ui, reviewer, company):
    mine = submission_with_file(company)
    theirs = submission_with_file(company)
    free = submission_with_file(company)
    submission_claim(submission_id=mine.pk, user=reviewer)
    submission_claim(submission_id=theirs.pk, user=factories.UserFactory(companies=[company]))
    shown = ui.get(reverse("review:queue"), {"claims": "mine"}).context["rows"]
    assert [s.pk for s in shown] == [mine.pk]
    shown = ui.get(reverse("review:queue"), {"claims": "free"}).context["rows"]
    assert [s.pk for s in shown] == [free.pk]


# --- Actions --------------------------------------------------------------------------------


def test_approve_opens_the_next_submission(ui, reviewer, company):
    first = submission_with_file(company)
    second = submission_with_file(company)
    ui.get(detail_url(first))
    first.refresh_from_db()
    response = ui.post(action_url("approve", first), {"version": first.version})
    assert response.status_code == 303
    assert response["Location"] == detail_url(second)
    first.refresh_from_db()
    assert first.status == S.APPROVED and first.claimed_by is None
    event = first.events.get(type="approved")
    assert event.actor_type == "user" and event.actor_label == reviewer.username


def test_after_the_last_one_the_queue_opens(ui, waiting):
    response = ui.post(action_url("approve", waiting), {"version": waiting.version})
    assert response["Location"] == reverse("review:queue")


def test_next_skips_submissions_someone_else_holds(ui, company):
    first = submission_with_file(company)
    held = submission_with_file(company)
    free = submission_with_file(company)
    submission_claim(submission_id=held.pk, user=factories.UserFactory(companies=[company]))
    response = ui.post(action_url("approve", first), {"version": first.version})
    assert response["Location"] == detail_url(free)


def test_j_k_and_next_stay_within_the_queues_filters(ui, company):
    flagged_first = submission_with_file(company, fraud_status="flagged")
    submission_with_file(company)  # clean: outside the filtered queue
    flagged_last = submission_with_file(company, fraud_status="flagged")
    queue = ui.get(reverse("review:queue"), {"fraud": "flagged"}).content.decode()
    assert f'href="{detail_url(flagged_first)}?fraud=flagged"' in queue

    page = ui.get(detail_url(flagged_first), {"fraud": "flagged"})
    assert page.context["next_id"] == flagged_last.pk
    assert f'href="{detail_url(flagged_last)}?fraud=flagged"' in page.content.decode()
    assert f'action="{action_url("approve", flagged_first)}?fraud=flagged"' in (
        page.content.decode()
    )
    response = ui.post(
        action_url("approve", flagged_first) + "?fraud=flagged",
        {"version": page.context["version"]},
    )
    assert response["Location"] == f"{detail_url(flagged_last)}?fraud=flagged"


@pytest.mark.parametrize(("sort", "expected"), [("confidence", "d"), ("-age", "a")])
def test_approve_goes_on_to_the_next_submission_in_the_queues_sort_order(
    ui, company, sort, expected
):
    """The next one was the next by age whatever the sort: not the page's own Next."""
    made = {
        name: submission_with_file(company, confidence=confidence)
        for name, confidence in (("a", 0.5), ("b", 0.9), ("c", 0.2), ("d", 0.7))
    }
    # By confidence: c, a, d, b; newest first: d, c, b, a. Approving b or a from there.
    done = made["a"] if sort == "confidence" else made["b"]
    page = ui.get(detail_url(done), {"sort": sort})
    assert page.context["next_id"] == made["d" if sort == "confidence" else "a"].pk
    response = ui.post(
        action_url("approve", done) + f"?sort={sort}", {"version": page.context["version"]}
    )
    assert response["Location"] == f"{detail_url(made[expected])}?sort={sort}"


def test_approving_the_last_of_a_sorted_queue_wraps_round_to_its_first(ui, company):
    # By confidence: low, middle, high; by age the one after high is middle.
    low, high, _middle = (submission_with_file(company, confidence=c) for c in (0.1, 0.8, 0.5))
    response = ui.post(action_url("approve", high) + "?sort=confidence", {"version": 1})
    assert response["Location"] == f"{detail_url(low)}?sort=confidence"


def test_a_sandbox_submission_opened_without_filters_walks_and_goes_on_in_the_sandbox(ui, company):
    """A sandbox page reached by a bare link (the stats page's oldest, the fraud compare
    page, the admin) walked and went on to production's queue: approving a test receipt
    opened a real one."""
    production = submission_with_file(company)
    first = submission_with_file(company, environment="sandbox")
    second = submission_with_file(company, environment="sandbox")
    page = ui.get(detail_url(second))
    assert (page.context["previous_id"], page.context["next_id"]) == (first.pk, None)
    assert f'href="{reverse("review:queue")}?environment=sandbox"' in page.content.decode()
    response = ui.post(action_url("approve", first), {"version": first.version})
    assert response["Location"] == f"{detail_url(second)}?environment=sandbox"
    assert production.pk not in response["Location"]


def test_a_production_submission_opened_with_the_sandbox_filter_stays_in_production(ui, company):
    first, second = submission_with_file(company), submission_with_file(company)
    sandbox = submission_with_file(company, environment="sandbox")
    page = ui.get(detail_url(first), {"environment": "sandbox"})
    assert (page.context["previous_id"], page.context["next_id"]) == (None, second.pk)
    response = ui.post(
        action_url("approve", first) + "?environment=sandbox", {"version": first.version}
    )
    assert response["Location"] == detail_url(second)
    assert sandbox.pk not in response["Location"]


def test_without_filters_j_k_walk_the_review_queue(ui, company):
    first, second = submission_with_file(company), submission_with_file(company)
    submission_with_file(company, status=S.APPROVED)
    page = ui.get(detail_url(second))
    assert (page.context["previous_id"], page.context["next_id"]) == (first.pk, None)


def refused_page(response) -> str:
    """A refused page action redirects to the page (Post/Redirect/Get), which says why."""
    assert response.redirect_chain and response.redirect_chain[0][1] == 303
    assert "/approve" not in response.request["PATH_INFO"]
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-refusal" in html
    return html


def test_stale_version_is_refused_with_the_new_state(ui, company, waiting):
    opened = waiting.version
    other = factories.UserFactory(companies=[company])
    submission_reject(
        submission_id=waiting.pk, actor=Actor.for_user(other), reason="Duplicate receipt."
    )
    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)
    assert response.redirect_chain == [(detail_url(waiting), 303)]
    html = refused_page(response)
    assert "changed since you opened it" in html
    assert 'data-status="rejected"' in html and "Duplicate receipt." in html
    waiting.refresh_from_db()
    assert waiting.status == S.REJECTED


def test_a_new_fraud_match_refuses_an_open_page(ui, company):
    from fraud.services import fraud_refresh, match_pair

    earlier = submission_with_file(company)
    waiting = submission_with_file(company)
    ui.get(detail_url(waiting))
    waiting.refresh_from_db()
    opened = waiting.version
    # A match recorded for the open submission and its fraud status refreshed (as a
    # re-run of its checks does): the page's version is stale.
    match_pair(
        company_id=company.pk,
        submission_id=waiting.pk,
        other_id=earlier.pk,
        check_type="visual",
        score=77.0,
        similarity=0.9,
    )
    fraud_refresh(submission_id=waiting.pk, reason={})
    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)
    assert "changed since you opened it" in refused_page(response)
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW and waiting.fraud_status == "flagged"


def test_unresolved_matches_disable_and_refuse_approval(ui, company, waiting):
    flag(waiting, submission_with_file(company))
    response = ui.get(detail_url(waiting))
    html = response.content.decode()
    assert 'data-action="approve" aria-disabled="true"' in html
    assert "Resolve 1 fraud match before approving." in html
    waiting.refresh_from_db()
    response = ui.post(action_url("approve", waiting), {"version": waiting.version}, follow=True)
    assert "must be resolved before approval" in refused_page(response)
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_reject_needs_a_reason(ui, waiting):
    response = ui.post(
        action_url("reject", waiting), {"version": waiting.version, "reason": " "}, follow=True
    )
    assert "A reason is required" in refused_page(response)
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_reject_with_a_common_reason_or_text(ui, company):
    first = submission_with_file(company)
    second = submission_with_file(company)
    preset = "Duplicate of an earlier submission."
    response = ui.post(action_url("reject", first), {"version": first.version, "preset": preset})
    assert response.status_code == 303
    first.refresh_from_db()
    assert first.status == S.REJECTED and first.reject_reason == preset
    ui.post(
        action_url("reject", second),
        {"version": second.version, "preset": preset, "reason": "Total is unreadable."},
    )
    second.refresh_from_db()
    assert second.reject_reason == "Total is unreadable."
    assert second.events.get(type="rejected").details == {"reason": "Total is unreadable."}


def test_cancel_with_optional_reason(ui, waiting):
    response = ui.post(action_url("cancel", waiting), {"version": waiting.version})
    assert response.status_code == 303
    waiting.refresh_from_db()
    assert waiting.status == S.CANCELLED
    response = ui.post(action_url("cancel", waiting), {"version": waiting.version}, follow=True)
    assert "The submission is already cancelled." in refused_page(response)


def test_a_form_without_version_is_refused(ui, waiting):
    response = ui.post(action_url("approve", waiting), {}, follow=True)
    assert "The form was incomplete" in refused_page(response)
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_a_refused_reject_keeps_the_typed_reason(ui, company, waiting):
    stale = waiting.version + 5
    response = ui.post(
        action_url("reject", waiting),
        {"version": stale, "reason": "Total does not match the claim."},
        follow=True,
    )
    assert "Total does not match the claim.</textarea>" in refused_page(response)
    # The refusal is shown once: a reload shows the page without it.
    assert "data-refusal" not in ui.get(detail_url(waiting)).content.decode()


PICKED = "Not a receipt or invoice."


def picked_in(page: str) -> str:
    """The common reason the page's reject form has selected ("" for none)."""
    select = re.search(r'<select name="preset".*?</select>', page, re.S)
    assert select, "no reject form on the page"
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(0))
    return chosen[0] if chosen else ""


def stale_reject(submission: Submission) -> dict[str, object]:
    return {"version": submission.version + 5, "preset": PICKED, "reason": ""}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_refused_reject_keeps_the_picked_common_reason(ui, company, waiting, htmx):
    """A reason picked from the common reasons came back unpicked after a stale page's
    Reject was refused, though a typed one was kept: the reviewer picked it again, or
    rejected with none picked and was refused once more."""
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"} if htmx else {}
    response = ui.post(action_url("reject", waiting), stale_reject(waiting), follow=True, **headers)
    page = refused_page(response)
    assert "changed since you opened it" in page
    assert picked_in(page) == PICKED
    # Shown once, as the typed reason is: a reload draws the form as stored.
    assert picked_in(ui.get(detail_url(waiting)).content.decode()) == ""


def test_a_reject_refused_for_another_reviewers_claim_keeps_what_was_picked_and_typed(
    ui, company, waiting
):
    submission_claim(submission_id=waiting.pk, user=factories.UserFactory(companies=[company]))
    waiting.refresh_from_db()
    posted = {"version": waiting.version, "preset": PICKED, "reason": "Scan of a menu."}
    page = refused_page(ui.post(action_url("reject", waiting), posted, follow=True))
    assert "data-refusal" in page and picked_in(page) == PICKED
    assert "Scan of a menu.</textarea>" in page
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_an_incomplete_reject_form_keeps_the_picked_reason(ui, waiting):
    page = refused_page(ui.post(action_url("reject", waiting), {"preset": PICKED}, follow=True))
    assert "The form was incomplete" in page and picked_in(page) == PICKED


def test_a_picked_reason_that_is_not_on_the_list_is_not_drawn(ui, waiting):
    posted = {"version": waiting.version + 5, "preset": "<b>Made up</b>"}
    page = refused_page(ui.post(action_url("reject", waiting), posted, follow=True))
    assert picked_in(page) == "" and "Made up" not in page


def test_a_reason_picked_for_a_submission_decided_meanwhile_is_listed(ui, waiting):
    seen = waiting.version
    submission_reject(submission_id=waiting.pk, actor=Actor.system(), reason="Duplicate.")
    posted = {"version": seen, "preset": PICKED}
    page = refused_page(ui.post(action_url("reject", waiting), posted, follow=True))
    assert re.search(rf'data-not-kept.*Reject reason: <span class="typed">{PICKED}', page, re.S)


def test_an_incomplete_plain_correction_keeps_what_was_typed(ui, waiting):
    """A plain correction post without its version (a page damaged or cut short) was
    answered "The form was incomplete." on a page drawn with the stored values: the typed
    value and line items were gone, though a refused save keeps them."""
    typed = {"field": "merchantName", "value": "Kedai Baru Sdn Bhd"}
    page = refused_page(ui.post(action_url("correct", waiting), typed, follow=True))
    assert "The form was incomplete" in page
    assert 'id="field-merchantName" name="value" value="Kedai Baru Sdn Bhd"' in page

    rows = {"description-0": "Teh tarik", "quantity-0": "2", "amount-0": "3.40"}
    page = refused_page(ui.post(action_url("correct_items", waiting), rows, follow=True))
    assert "The form was incomplete" in page and 'value="Teh tarik"' in page
    waiting.refresh_from_db()
    assert waiting.extracted_data.get("merchantName") != "Kedai Baru Sdn Bhd"


def test_what_a_refused_form_carried_for_a_submission_decided_meanwhile_is_listed(
    ui, company, waiting
):
    seen = waiting.version
    waiting.extracted_data = {"totalAmount": 54.2}
    waiting.save(update_fields=["extracted_data"])
    from submissions.services import submission_reject

    submission_reject(submission_id=waiting.pk, actor=Actor.system(), reason="Duplicate.")
    reject = {"version": seen, "reason": "Total does not match the claim."}
    page = refused_page(ui.post(action_url("reject", waiting), reject, follow=True))
    assert "changed since you opened it" in page
    # No reject form to put it back in: the page lists it rather than dropping it.
    assert re.search(
        r"data-not-kept.*Reject reason: <span class=\"typed\">Total does not", page, re.S
    )
    correction = {"version": seen, "field": "totalAmount", "value": "60.00"}
    page = ui.post(action_url("correct", waiting), correction, follow=True).content.decode()
    assert "data-not-kept" in page and "60.00</span>" in page
    # ... and never as if it were the stored value.
    assert re.search(r'<span id="field-totalAmount">54.20</span>', page)


@pytest.mark.parametrize("name", ["approve", "reject", "cancel", "correct", "claim", "release"])
def test_a_get_of_an_action_address_opens_the_page(ui, waiting, name):
    response = ui.get(action_url(name, waiting) + "?fraud=flagged")
    assert response.status_code == 302
    assert response["Location"] == detail_url(waiting) + "?fraud=flagged"
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW and waiting.claimed_by is None


# --- Corrections ----------------------------------------------------------------------------


def test_correction_is_an_event_and_shows_in_the_api(ui, reviewer, company, waiting, api):
    response = ui.post(
        action_url("correct", waiting),
        {"version": waiting.version, "field": "totalAmount", "value": "13.40"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert page_told(response) == "submission-changed"
    assert b'id="side"' in response.content and b"<html" not in response.content
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 13.4
    assert waiting.field_confidences["totalAmount"] == 1.0
    event = waiting.events.get(type="field_corrected")
    assert event.details == {"field": "totalAmount", "old": 12.5, "new": 13.4}
    assert event.actor_label == reviewer.username
    assert waiting.claimed_by == reviewer
    body = api.get(f"/api/v1/submissions/{waiting.pk}").json()
    assert body["extractedData"]["totalAmount"] == 13.4


def test_a_plain_correction_post_goes_back_to_the_page(ui, waiting):
    response = ui.post(
        action_url("correct", waiting),
        {"version": waiting.version, "field": "merchantName", "value": "Kedai Baru"},
    )
    assert response.status_code == 303 and response["Location"] == detail_url(waiting)
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Baru"


def test_invalid_corrections_are_refused(ui, waiting):
    version = waiting.version
    bad_number = ui.post(
        action_url("correct", waiting),
        {"version": version, "field": "totalAmount", "value": "twelve"},
        HTTP_HX_REQUEST="true",
    )
    assert bad_number.status_code == 422 and b"Enter a number" in bad_number.content
    bad_date = ui.post(
        action_url("correct", waiting),
        {"version": version, "field": "date", "value": "31/02/2026"},
        HTTP_HX_REQUEST="true",
    )
    assert bad_date.status_code == 422
    unknown = ui.post(
        action_url("correct", waiting),
        {"version": version, "field": "lineItems", "value": "x"},
        follow=True,
    )
    assert "not a field that can be corrected" in refused_page(unknown)
    stale = ui.post(
        action_url("correct", waiting),
        {"version": version - 1 or 99, "field": "merchantName", "value": "X"},
        HTTP_HX_REQUEST="true",
    )
    assert stale.status_code == 409 and b"changed since you opened it" in stale.content
    waiting.refresh_from_db()
    assert waiting.version == version and not waiting.events.filter(type="field_corrected")


ITEMS = [
    {"description": "Milo 1kg", "quantity": 2.0, "amount": 31.0},
    {"description": "Gardenia bread", "quantity": 1.0, "amount": 4.5},
]


def items_post(version: int, rows: list[tuple[str, str, str]]) -> dict[str, object]:
    data: dict[str, object] = {"version": version}
    for n, (description, quantity, amount) in enumerate(rows):
        data |= {f"description-{n}": description, f"quantity-{n}": quantity, f"amount-{n}": amount}
    return data


def post_items(ui, submission, rows: list[tuple[str, str, str]], version: int | None = None):
    """The line-items form posted over HTMX, by default from a page of the current version."""
    version = submission.version if version is None else version
    return ui.post(
        action_url("correct_items", submission),
        items_post(version, rows),
        HTTP_HX_REQUEST="true",
    )


def test_line_items_are_edited_added_and_removed_as_one_correction(ui, company, api):
    waiting = submission_with_file(
        company, extracted_data={"totalAmount": 35.5, "lineItems": ITEMS}
    )
    page = ui.get(detail_url(waiting))
    html = page.content.decode()
    assert 'name="description-1" value="Gardenia bread"' in html and 'name="description-2"' in html
    rows = [("Milo 1kg", "2", "31.00"), ("", "", ""), ("Eggs grade A", "", "4.50")]
    response = ui.post(
        action_url("correct_items", waiting),
        items_post(page.context["version"], rows),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and b'id="side"' in response.content
    waiting.refresh_from_db()
    expected = [
        {"description": "Milo 1kg", "quantity": 2.0, "amount": 31.0},
        {"description": "Eggs grade A", "quantity": 1.0, "amount": 4.5},
    ]
    assert waiting.extracted_data["lineItems"] == expected
    assert waiting.field_confidences["lineItems"] == 1.0
    event = waiting.events.get(type="field_corrected")
    assert event.details == {"field": "lineItems", "old": ITEMS, "new": expected}
    timeline = ui.get(detail_url(waiting)).content.decode()
    assert "row 2: description Gardenia bread → Eggs grade A" in timeline
    assert api.get(f"/api/v1/submissions/{waiting.pk}").json()["extractedData"]["lineItems"] == (
        expected
    )


@pytest.mark.parametrize(
    "row, message",
    [
        (("", "1", "3.00"), b"Row 1: a description is needed"),
        (("Milo", "0", "3.00"), b"Row 1: the quantity must be a number above zero"),
        (("Milo", "two", "3.00"), b"Row 1: the quantity must be a number above zero"),
        (("Milo", "1", "three"), b"Row 1: enter the amount as a number"),
        (("Milo", "1", "NaN"), b"Row 1: enter the amount as a number"),
        (("Mi\x00lo", "1", "3.00"), b"Row 1: the description has a NUL character"),
        (("Milo", "1\x00", "3.00"), b"Row 1: the quantity must be a number above zero"),
        (("Milo", "1", "1e30"), b"Row 1: enter the amount as a number"),
        (("Milo", "9" * 27, "3.00"), b"Row 1: the quantity must be a number above zero"),
    ],
)
def test_invalid_line_items_are_refused_and_nothing_changes(ui, company, row, message):
    waiting = submission_with_file(company, extracted_data={"lineItems": ITEMS})
    version = waiting.version
    response = ui.post(
        action_url("correct_items", waiting), items_post(version, [row]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422 and message in response.content
    waiting.refresh_from_db()
    assert waiting.version == version and waiting.extracted_data["lineItems"] == ITEMS


def test_a_long_list_of_line_items_is_saved_whole_and_one_too_long_is_refused(ui, company):
    many = [{"description": f"Item {n}", "quantity": 1.0, "amount": 1.5} for n in range(250)]
    waiting = submission_with_file(company, extracted_data={"lineItems": many})
    rows = [(item["description"], "1", "1.50") for item in many] + [("Item 250", "1", "2.00")]
    assert post_items(ui, waiting, rows).status_code == 200
    waiting.refresh_from_db()
    assert len(waiting.extracted_data["lineItems"]) == 251  # none cut off past row 200
    too_long = [(f"Item {n}", "1", "1.50") for n in range(MAX_LINE_ITEMS + 1)]
    refused = post_items(ui, waiting, too_long)
    assert refused.status_code == 422 and b"At most 300 line items" in refused.content
    waiting.refresh_from_db()
    assert len(waiting.extracted_data["lineItems"]) == 251


def test_saving_line_items_keeps_descriptions_of_2000_characters_whole(ui, company):
    long = [{"description": f"{n} " + "x" * 1997, "quantity": 1.0, "amount": 1.5} for n in range(3)]
    waiting = submission_with_file(company, extracted_data={"lineItems": long})
    # The reviewer fixes one amount; every description goes back as the page showed it.
    rows = [(item["description"], "1", "1.50") for item in long]
    rows[1] = (rows[1][0], "1", "2.50")
    assert post_items(ui, waiting, rows).status_code == 200
    waiting.refresh_from_db()
    saved = waiting.extracted_data["lineItems"]
    assert [item["description"] for item in saved] == [item["description"] for item in long]
    assert saved[1]["amount"] == 2.5


def test_a_line_item_description_over_the_limit_is_refused_not_cut_short(ui, company):
    waiting = submission_with_file(company, extracted_data={"lineItems": ITEMS})
    version = waiting.version
    refused = post_items(ui, waiting, [("y" * (CORRECTION_MAX + 1), "1", "3.00")])
    assert refused.status_code == 422
    assert b"Row 1: the description is at most 2000 characters" in refused.content
    waiting.refresh_from_db()
    assert waiting.version == version and waiting.extracted_data["lineItems"] == ITEMS


def test_saving_the_line_items_form_leaves_rows_nobody_touched_exactly_as_stored(ui, company):
    stored = [{"description": "Beef", "quantity": 0.3335, "amount": 12.3456}, ITEMS[1]]
    waiting = submission_with_file(company, extracted_data={"lineItems": stored})
    html = ui.get(detail_url(waiting)).content.decode()
    shown = [
        re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("description-0", "quantity-0", "amount-0")
    ]
    assert shown == ["Beef", "0.3335", "12.3456"]
    rows = [tuple(shown), ("Gardenia bread", "1", "4.50"), ("Eggs", "1", "7.20")]
    assert post_items(ui, waiting, rows).status_code == 200
    waiting.refresh_from_db()
    assert waiting.extracted_data["lineItems"][:2] == stored


def test_a_refused_plain_form_correction_comes_back_with_what_was_typed(ui, company):
    waiting = submission_with_file(
        company, extracted_data={"totalAmount": 1000.0, "lineItems": ITEMS}
    )
    rows = [("Milo 1kg", "2", "31.00"), ("Wine", "1", "12,5O")]
    page = ui.post(
        action_url("correct_items", waiting), items_post(waiting.version, rows), follow=True
    ).content.decode()
    assert 'name="description-1" value="Wine"' in page and 'value="12,5O"' in page
    assert "Row 2: enter the amount as a number" in page
    field = {"version": waiting.version, "field": "totalAmount", "value": "12,5O"}
    page = ui.post(action_url("correct", waiting), field, follow=True).content.decode()
    assert 'id="field-totalAmount" name="value" value="12,5O"' in page
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 1000.0
    assert waiting.extracted_data["lineItems"] == ITEMS


def titled(submission: Submission, field: str, title: str) -> None:
    """Give `field` a title in the submission's workflow schema, as a workflow may."""
    version = submission.workflow_version
    schema = dict(version.output_schema)
    properties = {**schema["properties"], field: {**schema["properties"][field], "title": title}}
    version.output_schema = {**schema, "properties": properties}
    version.save(update_fields=["output_schema"])


def test_the_timeline_names_a_corrected_field_as_the_page_labels_it(ui, waiting):
    """It showed the schema's key ("merchantName: …"), a name the reviewer reads nowhere
    else on the page: the schema's title, or the key spelt out, as the field's row."""
    titled(waiting, "merchantName", "Shop")
    for field, value in (("merchantName", "Kedai Baru"), ("totalAmount", "13.00")):
        submission_correct_field(
            submission_id=waiting.pk, field_name=field, raw_value=value, actor=Actor.system()
        )

    html = ui.get(detail_url(waiting)).content.decode()

    changes = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r'class="change">(.*?)</div>', html)]
    assert [c.split(":")[0] for c in changes] == ["Total amount", "Shop"]
    assert "merchantName" not in " ".join(changes)
    # The event stays as stored: the API and webhooks name the field by its key.
    assert waiting.events.filter(type="field_corrected", details__field="merchantName").exists()


def row_changes_shown(ui, submission: Submission) -> list[str]:
    html = ui.get(detail_url(submission)).content.decode()
    return re.findall(r"<span data-row-changes>([^<]*)</span>", html)


def test_a_line_item_correction_says_in_the_timeline_which_rows_changed(ui, company):
    stored = [
        {"description": "Milk 2L", "quantity": 1.0, "amount": 1.45},
        {"description": "Bread", "quantity": 1.0, "amount": 1.1},
        {"description": "Wine", "quantity": 1.0, "amount": 37.6},
    ]
    waiting = submission_with_file(company, extracted_data={"lineItems": stored})
    # Milk doubled, Bread removed, Wine kept, coffee added.
    rows = [("Milk 2L", "2", "2.90"), ("", "", ""), ("Wine", "1", "37.60"), ("Coffee", "", "6.8")]
    assert post_items(ui, waiting, rows).status_code == 200
    assert row_changes_shown(ui, waiting) == [
        "row 1 (Milk 2L): quantity 1 → 2, amount 1.45 → 2.90; row 2 removed: Bread, 1 × 1.10; "
        "row 3 added: Coffee, 1 × 6.80"
    ]


def test_a_line_item_correction_of_many_rows_names_a_few_and_counts_the_rest(ui, company):
    stored = [{"description": f"Item {n}", "quantity": 1.0, "amount": 1.0} for n in range(6)]
    waiting = submission_with_file(company, extracted_data={"lineItems": stored})
    rows = [(f"Item {n}", "1", "2.00") for n in range(6)]
    assert post_items(ui, waiting, rows).status_code == 200
    assert row_changes_shown(ui, waiting) == [
        "row 1 (Item 0): amount 1.00 → 2.00; row 2 (Item 1): amount 1.00 → 2.00; "
        "row 3 (Item 2): amount 1.00 → 2.00; and 3 more changes"
    ]


def test_the_timeline_entry_of_a_long_list_of_alike_rows_is_drawn_at_once():
    """difflib matched rows that repeat in cubic time: 600 alike rows with every other one
    changed (events are stored data) took seconds per entry, and the detail lists 100."""
    bag = {"description": "Bag", "quantity": 1.0, "amount": 0.1}
    old = [bag] * 600
    new = [{**bag, "quantity": 2} if n % 2 else bag for n in range(600)]
    started = time.monotonic()
    shown = row_changes({"field": "lineItems", "old": old, "new": new})
    assert time.monotonic() - started < 0.5
    assert shown == [
        "row 2 (Bag): quantity 1 → 2",
        "row 4 (Bag): quantity 1 → 2",
        "row 6 (Bag): quantity 1 → 2",
        "and 297 more changes",
    ]


def test_line_items_of_a_stale_page_or_a_decided_submission_are_refused(ui, company):
    waiting = submission_with_file(company, extracted_data={"lineItems": ITEMS})
    rows = [("Milo 1kg", "1", "15.50")]
    assert post_items(ui, waiting, rows, version=waiting.version + 1).status_code == 409
    approved = submission_with_file(company, status=S.APPROVED, extracted_data={"lineItems": ITEMS})
    assert 'name="description-0"' not in ui.get(detail_url(approved)).content.decode()
    assert post_items(ui, approved, rows).status_code == 409
    approved.refresh_from_db()
    assert approved.extracted_data["lineItems"] == ITEMS


# --- Overview -------------------------------------------------------------------------------


def test_stats_page_draws_svg_charts(ui, company, reviewer):
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    waiting = submission_with_file(company)
    Submission.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=5))
    decided = submission_with_file(company, fraud_status="flagged")
    from submissions.services import submission_approve

    submission_approve(submission_id=decided.pk, actor=Actor.for_user(reviewer))
    response = ui.get(reverse("review:stats"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<svg") == 2 and 'class="bar-approved"' in html
    assert response.context["waiting"] == 1
    assert response.context["depth"] == [{"label": "Receipt OCR", "value": 1}]
    assert response.context["decisions"][-1]["approved"] == 1
    assert len(response.context["decisions"]) == 30
    assert response.context["rates"]["fraud_rate"] == 0.5
    assert "5h 0m" in html
    # A decision at 01:00 in UTC+8 is counted on the UTC day before: the chart says so.
    assert 'Decisions per day <small class="muted">(UTC days)</small>' in html


def test_the_review_sla_comes_from_the_settings(ui, company, settings):
    waiting = submission_with_file(company)
    Submission.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=5))
    assert "sla-breached" not in ui.get(reverse("review:queue")).content.decode()
    settings.REVIEW_SLA = timedelta(hours=4)
    assert "sla-breached" in ui.get(reverse("review:queue")).content.decode()


# --- A queue for a working day --------------------------------------------------------------


def test_an_empty_search_says_nothing_matches_not_that_the_queue_is_empty(ui, company):
    submission_with_file(company)
    html = ui.get(reverse("review:queue"), {"q": "no-such-thing"}).content.decode()
    assert "No submission matches these filters." in html
    assert "The review queue is empty." not in html
    Submission.objects.update(status=S.APPROVED)
    assert "The review queue is empty." in ui.get(reverse("review:queue")).content.decode()


@pytest.mark.parametrize(
    "status, says",
    [("all", "There are no submissions yet."), ("approved", "No submission is approved.")],
)
def test_an_empty_status_tab_says_what_it_lacks_in_words(ui, company, status, says):
    """The All tab of a company with nothing yet read "No submission is all."."""
    html = ui.get(reverse("review:queue"), {"status": status}).content.decode()
    assert says in html
    assert "is all." not in html


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("", ["a", "b", "c"]),
        ("-age", ["c", "b", "a"]),
        ("confidence", ["b", "c", "a"]),
        ("amount", ["c", "a", "b"]),
        ("fraud", ["a", "c", "b"]),
    ],
)
def test_queue_columns_sort(ui, company, sort, expected):
    rows = {
        "a": submission_with_file(
            company, confidence=0.9, fraud_score=80.0, extracted_data={"totalAmount": 20.0}
        ),
        "b": submission_with_file(
            company, confidence=0.2, fraud_score=None, extracted_data={"totalAmount": 3.5}
        ),
        "c": submission_with_file(
            company, confidence=0.5, fraud_score=10.0, extracted_data={"totalAmount": 120.0}
        ),
    }
    names = {s.pk: name for name, s in rows.items()}
    response = ui.get(reverse("review:queue"), {"sort": sort} if sort else {})
    assert [names[s.pk] for s in response.context["rows"]] == expected
    # The header links keep the other filters and say which column sorts.
    html = ui.get(reverse("review:queue"), {"sort": "amount", "fraud": "clean"}).content.decode()
    assert 'aria-sort="descending"><a href="?fraud=clean&amp;sort=amount"' in html


def test_queue_says_why_in_review_and_when_the_sla_is_due(ui, company, settings):
    settings.REVIEW_SLA = timedelta(hours=24)
    old = submission_with_file(
        company, fraud_status="flagged", review_flagged_fields=["totalAmount"]
    )
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=30))
    submission_with_file(company, fraud_status="clean")
    response = ui.get(reverse("review:queue"))
    whys = [row.why for row in response.context["rows"]]
    assert whys == ["Fraud flagged; Check Total amount", "Manual review"]
    html = response.content.decode()
    assert "1 past the 24h SLA" in html and 'data-breaches="1"' in html
    assert "overdue" in html


def test_a_comment_is_an_event_in_the_timeline_and_the_api(ui, reviewer, waiting, api):
    version = waiting.version
    response = ui.post(
        action_url("comment", waiting),
        {"text": "Called the store: the receipt is real."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"Called the store: the receipt is real." in response.content
    waiting.refresh_from_db()
    assert waiting.version == version  # a note makes nobody's page stale
    event = waiting.events.get(type="comment")
    assert event.actor_label == reviewer.username
    assert event.details == {"text": "Called the store: the receipt is real."}
    body = api.get(f"/api/v1/submissions/{waiting.pk}").json()
    assert any(
        e["type"] == "comment" and e["details"]["text"].startswith("Called") for e in body["events"]
    )


def form_token(page: str) -> str:
    """The one-time token of the comment form drawn on a page."""
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-form"])
def test_a_comment_form_sent_again_after_its_answer_was_lost_is_one_comment(ui, waiting, api, htmx):
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    sent = {"text": "Called the store.", "form_token": form_token(page)}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    first = ui.post(action_url("comment", waiting), sent, **headers)
    again = ui.post(action_url("comment", waiting), sent, **headers)
    assert first.status_code == again.status_code == (200 if htmx else 303)
    assert [e.details for e in waiting.events.filter(type="comment")] == [
        {"text": "Called the store."}
    ]
    # The answer draws a new form: the next comment is a new one.
    drawn = again if htmx else ui.get(again["Location"])
    assert form_token(drawn.content.decode()) != sent["form_token"]
    # Its text changed before it was sent again: a note of its own, never dropped.
    ui.post(action_url("comment", waiting), {**sent, "text": "And the bank."}, **headers)
    events = api.get(f"/api/v1/submissions/{waiting.pk}").json()["events"]
    texts = [e["details"]["text"] for e in events if e["type"] == "comment"]
    assert texts == ["And the bank.", "Called the store."]
    assert sent["form_token"] not in json.dumps(events)  # the page's, not the API's


@pytest.mark.django_db(transaction=True)
def test_one_comment_form_sent_twice_at_once_is_one_comment(reviewer, waiting):
    sent = {"text": "Called the store.", "form_token": "0f1e2d3c-4b5a-4678-9abc-def012345678"}
    responses = responses_at_once(
        None, [(action_url("comment", waiting), sent)] * 2, signed_in=reviewer
    )
    assert [r.status_code for r in responses] == [200, 200]
    assert waiting.events.filter(type="comment").count() == 1


def test_a_comment_form_with_a_damaged_token_is_refused_and_keeps_its_text(ui, waiting):
    sent = {"text": "Called the store.", "form_token": "not-a-token"}
    htmx = ui.post(action_url("comment", waiting), sent, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 422 and b"reload the page" in htmx.content
    page = ui.post(action_url("comment", waiting), sent, follow=True).content.decode()
    assert "reload the page" in page and ">Called the store.</textarea>" in page
    assert not waiting.events.filter(type="comment").exists()


@pytest.mark.parametrize(
    "text", ["   ", "x" * 2001, "a\x00b", "ok \u202egnp.exe", "line1\x07bell", "zw\u200bsp"]
)
def test_an_empty_or_bad_comment_is_refused(ui, waiting, text):
    response = ui.post(action_url("comment", waiting), {"text": text}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and b"data-refusal" in response.content
    assert not waiting.events.filter(type="comment").exists()


def confident(company, **fields):
    values = {"fraud_status": "clean", "confidence": 0.97, "review_flagged_fields": [], **fields}
    return submission_with_file(company, **values)


def test_bulk_approve_approves_each_clean_confident_pick_with_its_own_event(ui, reviewer, company):
    first, second = confident(company), confident(company)
    low = confident(company, confidence=0.3)
    flagged = confident(company, fraud_status="flagged")
    stale = confident(company)
    html = ui.get(reverse("review:queue")).content.decode()
    assert f'value="{first.pk}:{first.version}"' in html
    assert f'value="{low.pk}:' not in html and f'value="{flagged.pk}:' not in html
    picks = [f"{s.pk}:{s.version}" for s in (first, second, low, flagged)]
    picks.append(f"{stale.pk}:{stale.version + 1}")
    response = ui.post(reverse("review:bulk_approve"), {"pick": picks}, follow=True)
    assert response.redirect_chain == [(reverse("review:queue"), 303)]
    html = response.content.decode()
    assert "Approved 2 submissions." in html
    assert f"{low.pk} was not approved: Only clean, high-confidence" in html
    assert f"{stale.pk} was not approved: The submission changed" in html
    # The same codes the API answers with, as on the submission page.
    assert "(SUBMISSION_CHANGED)" in html
    for submission in (first, second):
        submission.refresh_from_db()
        assert submission.status == S.APPROVED
        event = submission.events.get(type="approved")
        assert event.actor_label == reviewer.username and event.details == {"bulk": True}
    for submission in (low, flagged, stale):
        submission.refresh_from_db()
        assert submission.status == S.REVIEW


def test_bulk_approve_ignores_another_companys_submissions(ui, foreign):
    foreign.confidence, foreign.fraud_status = 0.99, "clean"
    foreign.save()
    response = ui.post(
        reverse("review:bulk_approve"), {"pick": [f"{foreign.pk}:{foreign.version}"]}, follow=True
    )
    assert "Select at least one submission" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.status == S.REVIEW


def test_bulk_approve_ignores_picks_that_are_no_id_and_version(ui, company):
    waiting = factories.SubmissionFactory(company=company, confidence=0.99, fraud_status="clean")
    picks = [f"{waiting.pk}:\u00b2", f"{waiting.pk}\x00:{waiting.version}", "x:\u0661"]
    response = ui.post(reverse("review:bulk_approve"), {"pick": picks}, follow=True)
    assert response.status_code == 200
    assert "Select at least one submission" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


@pytest.mark.parametrize("url", ["/review/?after=%00", "/review/rows?upto=%00", "/review/%00/"])
def test_a_nul_in_a_page_address_is_a_400_not_a_500(ui, url):
    assert ui.get(url).status_code == 400


HOSTILE_QUERIES = [
    "status=",
    "status=review&status=nonsense",
    "status=%E2%80%AE%FF",
    "sort=-fraud",
    "sort=" + "x" * 10_000,
    "q=" + "x" * 10_000,
    "q=%ED%A0%80",
    "workflow=wf_nope&fraud=maybe&claims=theirs",
    "environment=staging",
    "after=-1",
    "after=" + "z" * 10_000,
    "upto=1e9",
    "upto=" + "z" * 10_000,
    "page=-1&page=1e9",
    "part=nonsense",
    "rotate=45",
    "rotate=90&rotate=-90",
]


def desk_urls(own: Submission, other: Submission) -> list[str]:
    return [
        reverse("review:queue"),
        reverse("review:queue_rows"),
        detail_url(own),
        reverse("review:file_page", args=[own.pk, 0, 0]),
        reverse("fraud:panel", args=[own.pk]),
        reverse("fraud:compare", args=[own.pk, other.pk]),
    ]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=lambda q: q[:40])
def test_a_hostile_query_string_is_ignored_in_bounded_queries_never_a_500_nor_another_company(
    ui, company, query
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    own = submission_with_file(company)
    other = submission_with_file(factories.CompanyFactory())
    for url in desk_urls(own, other):
        with CaptureQueriesContext(connection) as plain:
            expected = ui.get(url).status_code
        with CaptureQueriesContext(connection) as hostile:
            response = ui.get(f"{url}?{query}&upto={other.pk}")
        assert response.status_code in {expected, 400}, url
        # Its id is in the address (echoed back in links); nothing of its own shows.
        assert other.client_submission_id.encode() not in response.content, url
        assert len(hostile) <= len(plain) + 1, url  # +1: a filter's own lookup


def test_stats_show_decisions_and_median_handling_time_per_reviewer(ui, reviewer, company):
    from submissions.models import SubmissionEvent
    from submissions.services import submission_approve, submission_reject

    durations = [4, 10, 30]
    for minutes in durations:
        submission = submission_with_file(company)
        submission_claim(submission_id=submission.pk, user=reviewer)
        SubmissionEvent.objects.filter(submission=submission, type="claimed").update(
            occurred_at=timezone.now() - timedelta(minutes=minutes)
        )
        submission_approve(submission_id=submission.pk, actor=Actor.for_user(reviewer))
    other = factories.UserFactory(companies=[company])
    rejected = submission_with_file(company)
    submission_reject(submission_id=rejected.pk, actor=Actor.for_user(other), reason="Blurry.")
    # The overview is a lead's page (steve.accounts).
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    response = ui.get(reverse("review:stats"))
    figures = {r["label"]: r for r in response.context["reviewers"]}
    mine = figures[reviewer.username]
    assert (mine["decisions"], mine["approved"], mine["rejected"]) == (3, 3, 0)
    assert timedelta(minutes=9) < mine["median"] < timedelta(minutes=11)
    assert figures[other.username]["rejected"] == 1 and figures[other.username]["median"] is None
    assert f'data-reviewer="{reviewer.username}"' in response.content.decode()


def test_the_overview_says_which_environment_it_counts_and_switches_to_the_other(
    ui, reviewer, company
):
    """The overview counted production unless ?environment=sandbox was typed by hand: it
    said neither which one it showed nor offered the other, and the queue's Overview link
    dropped the sandbox filter, so a sandbox reviewer read production's figures as theirs."""
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    submission_with_file(company)
    sandbox = submission_with_file(company, environment="sandbox")
    stats = reverse("review:stats")

    production_page = ui.get(stats).content.decode()
    assert 'data-environment="production"' in production_page
    assert f'href="{stats}?environment=sandbox"' in production_page

    sandbox_page = ui.get(stats, {"environment": "sandbox"}).content.decode()
    assert 'data-environment="sandbox"' in sandbox_page
    assert f'href="{stats}"' in sandbox_page  # back to production
    assert f'href="{detail_url(sandbox)}?environment=sandbox"' in sandbox_page  # oldest

    queue = ui.get(reverse("review:queue"), {"environment": "sandbox"}).content.decode()
    assert f'href="{stats}?environment=sandbox"' in queue


def test_a_turned_upload_is_shown_as_read_and_turns_on_request(ui, company):
    from PIL import Image

    turned = submission_with_file(company)
    file = turned.files.get()
    file.page_transforms = [{"skew": 0.0, "turn": 90}]
    file.save(update_fields=["page_transforms"])
    page_url = reverse("review:file_page", args=[turned.pk, 0, 0])
    html = ui.get(detail_url(turned)).content.decode()
    assert f'src="{page_url}?v=' in html  # versioned (test_versioned_file_urls)

    def size(url: str, **params: str) -> tuple[int, int]:
        response = ui.get(url, params)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        return Image.open(io.BytesIO(response.content)).size

    assert size(page_url) == (90, 60)  # the 60x90 upload, turned as OCR read it
    assert size(page_url, rotate="90") == (60, 90)
    assert size(page_url, rotate="45") == (90, 60)  # only quarter turns
    assert ui.get(reverse("review:file_page", args=[turned.pk, 0, 1])).status_code == 404

    upright = submission_with_file(company)
    html = ui.get(detail_url(upright)).content.decode()
    assert f'src="{reverse("review:file", args=[upright.pk, 0])}?v=' in html


def test_line_items_carry_their_boxes_until_the_rows_are_corrected(ui, company):
    boxes = [
        {"file": 0, "page": 0, "bbox": [0.1, 0.4, 0.9, 0.45], "item": 0},
        {"file": 0, "page": 0, "bbox": [0.1, 0.46, 0.9, 0.5], "item": 1},
    ]
    waiting = submission_with_file(
        company,
        extracted_data={"lineItems": ITEMS},
        evidence={"lineItems": boxes, "totalAmount": [{"page": 0, "bbox": [0, 0.6, 1, 0.7]}]},
    )
    page = ui.get(detail_url(waiting))
    rows = page.context["line_items"]
    assert [json.loads(r.evidence)[0]["bbox"] for r in rows] == [b["bbox"] for b in boxes]
    assert "data-evidence=" in page.content.decode()
    ui.post(
        action_url("correct_items", waiting),
        items_post(page.context["version"], [("Gardenia bread", "1", "4.50")]),
        HTTP_HX_REQUEST="true",
    )
    waiting.refresh_from_db()
    assert "lineItems" not in waiting.evidence and "totalAmount" in waiting.evidence


def test_a_file_never_uploaded_is_not_called_no_longer_stored(ui, company):
    # Cancelled before its upload: the slot exists, the bytes never came.
    never = factories.SubmissionFactory(company=company, status=S.CANCELLED)
    factories.SubmissionFileFactory(submission=never, uploaded_at=None, mime_type="", size=None)
    page = ui.get(detail_url(never)).content.decode()
    assert "This file was never uploaded." in page and "no longer stored" not in page
    purged = submission_with_file(company)
    purged.files.update(uploaded_at=timezone.now(), purged_at=timezone.now())
    assert "This file is no longer stored." in ui.get(detail_url(purged)).content.decode()


def test_the_timeline_shows_a_list_in_an_events_details_as_words():
    from submissions.templatetags.review_tags import detail_items

    details = {"flaggedFields": ["merchantName", "date"], "compliance": 0.81, "none": []}
    assert detail_items(details) == [
        ("flaggedFields", "merchantName, date"),
        ("compliance", "0.81"),
        ("none", "—"),
    ]


def test_the_timeline_shows_as_a_time_only_what_steve_wrote_as_one():
    # Any text Python's fromisoformat reads was shown as a time: a reviewer named
    # "20240115" took a claim "from Jan 15 00:00", a reason "2024-01-15" became a time.
    from submissions.templatetags.review_tags import detail_items

    details = {
        "claimedUntil": "2026-03-05T10:30:00.000Z",
        "takenFrom": "20240115",
        "reason": "2024-01-15",
    }
    assert detail_items(details) == [
        ("claimedUntil", "2026-03-05 10:30 UTC"),
        ("takenFrom", "20240115"),
        ("reason", "2024-01-15"),
    ]


def test_metadata_shows_as_typed_on_the_review_page(ui, waiting):
    waiting.metadata = {"note": "\u0645\u0631\u062d\u0628\u0627 \u2764\ufe0f"}
    waiting.save()
    html = ui.get(detail_url(waiting)).content.decode()
    assert "\u0645\u0631\u062d\u0628\u0627 \u2764\ufe0f" in html
    assert "\\u0645" not in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("confidence", ["low", "mid", "high"]), ("-age", ["newest", "middle", "oldest"])],
)
def test_previous_and_next_follow_the_queues_sort_order(ui, company, sort, expected):
    # Created oldest first; the confidences put them in another order.
    oldest = submission_with_file(company, confidence=0.9)
    middle = submission_with_file(company, confidence=0.2)
    newest = submission_with_file(company, confidence=0.5)
    names = {
        "confidence": {"low": middle, "mid": newest, "high": oldest},
        "-age": {"newest": newest, "middle": middle, "oldest": oldest},
    }[sort]
    first, second, third = (names[name] for name in expected)

    page = ui.get(detail_url(second), {"sort": sort}).content.decode()

    assert re.search(rf'rel="prev"[^>]*href="/review/{first.pk}/\?sort={re.escape(sort)}"', page)
    assert re.search(rf'rel="next"[^>]*href="/review/{third.pk}/\?sort={re.escape(sort)}"', page)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 2001, "At most 2000 characters."),
        ("Kedai\x00Baru", "control, bidi formatting or invisible character"),
    ],
)
def test_a_refused_correction_reads_as_the_apis_and_keeps_the_typed_value(
    ui, api, waiting, value, message
):
    field = {"version": waiting.version, "field": "merchantName", "value": value}
    htmx = ui.post(action_url("correct", waiting), field, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 422 and message in htmx.content.decode()

    page = ui.post(action_url("correct", waiting), field, follow=True).content.decode()
    assert message in page and "The form was incomplete" not in page
    if "\x00" not in value:  # a NUL is not put back into the page
        assert f'id="field-merchantName" name="value" value="{value}"' in page

    over_api = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"merchantName": value}},
        format="json",
    )
    assert over_api.status_code in (400, 422)
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] != value


def test_a_refused_plain_form_comment_keeps_its_text(ui, waiting):
    text = "Called the store \u202egnp.exe"
    page = ui.post(action_url("comment", waiting), {"text": text}, follow=True).content.decode()
    assert "invisible character" in page
    assert f">{text}</textarea>" in page
    assert not waiting.events.filter(type="comment").exists()


def test_a_refused_cancel_keeps_its_reason(ui, waiting):
    reason = "Duplicate from the same customer."
    stale = {"version": waiting.version + 3, "reason": reason}
    page = ui.post(action_url("cancel", waiting), stale, follow=True).content.decode()
    assert "changed since you opened it" in page
    assert f'name="reason" value="{reason}"' in page
    assert '<details class="cancel" open>' in page
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_a_cancel_reason_over_the_limit_is_refused_saying_so_and_kept(ui, waiting):
    """The form's own limit answered "The form was incomplete; try again." and dropped the
    reason: a pasted 2,001-character reason was gone, with a message that did not say why
    (the page's input has no maxlength; the service's limit, as the API's, says so)."""
    reason = "Duplicate of an order the customer sent twice. " * 43  # 2,021 characters
    response = ui.post(
        action_url("cancel", waiting), {"version": waiting.version, "reason": reason}, follow=True
    )
    page = refused_page(response)
    assert "At most 2000 characters." in page
    assert "The form was incomplete" not in page
    assert f'name="reason" value="{reason}"' in page
    assert '<details class="cancel" open>' in page
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_a_reject_reason_over_the_limit_is_refused_saying_so_and_kept_whole(ui, waiting):
    """The reason's box had maxlength="2000" (the form's limit): a browser cuts a longer
    pasted reason to fit without a word, and it was stored cut. The service's limit
    refuses it instead, saying so, and the page shows it back whole."""
    page = ui.get(detail_url(waiting)).content.decode()
    box = re.search(r"<textarea[^>]*name=\"reason\"[^>]*>", page)
    assert box and "maxlength" not in box.group(0)

    reason = " ".join(["The total was changed by hand after printing, see the stamp."] * 34)
    response = ui.post(
        action_url("reject", waiting), {"version": waiting.version, "reason": reason}, follow=True
    )
    refused = refused_page(response)
    assert "At most 2000 characters." in refused
    assert f"\n{reason}</textarea>" in refused
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW


def test_a_comment_over_the_limit_is_refused_saying_so_not_cut_by_the_browser(ui, waiting):
    """The comment box had maxlength="2000": a longer pasted comment was cut to fit
    without a word and saved cut. The service refuses it, saying so, and keeps it."""
    page = ui.get(detail_url(waiting)).content.decode()
    box = re.search(r"<textarea[^>]*name=\"text\"[^>]*>", page)
    assert box and "maxlength" not in box.group(0)

    text = " ".join(["Called the shop: the manager says this receipt was reprinted."] * 33)
    form = {"text": text, "form_token": "5f0c5d7e-8a4b-4a43-9d3c-1d2b3c4d5e6f"}
    refused = refused_page(ui.post(action_url("comment", waiting), form, follow=True))
    assert "A comment has at most 2000 characters." in refused
    assert f">{text}</textarea>" in refused
    assert not waiting.events.filter(type="comment").exists()
