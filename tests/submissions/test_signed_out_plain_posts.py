"""A desk form posted without JavaScript after the reviewer's sign-in ended.

The htmx path keeps the page and what was typed (a 401 the page explains); a plain post
was redirected to the login form and, once signed in again, landed on the page showing
the stored value: the typed correction, reason or comment was gone without a word.
"""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from steve.models import Membership
from submissions.models import SubmissionStatus
from submissions.services import (
    Actor,
    LineItemRow,
    submission_correct_field,
    submission_correct_line_items,
    submission_release_claim,
)
from tests import factories
from tests.submissions.test_plain_take_over_keeps_typed import _Page
from tests.submissions.test_review_support import flagged_pairs, submission_with_file

pytestmark = pytest.mark.django_db

TYPED = "Tesco Extra ‮ﺕﺴﻜﻭ‬ 🧾"


@pytest.fixture
def waiting(company):
    return submission_with_file(company)


def timed_out(client: Client) -> Client:
    """The reviewer's session passes its age: the server keeps its row, expired, until
    it is cleared; the browser keeps its cookies and the page it had open."""
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    return client


def expired(client: Client) -> Client:
    """The reviewer's session ends on the server (its age passed); the browser keeps its
    cookies (the CSRF cookie outlives the session) and the page it had open."""
    Session.objects.all().delete()
    return client


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("correct", {"field": "merchantName", "value": TYPED}),
        ("reject", {"reason": TYPED}),
        ("comment", {"text": TYPED, "form_token": "t1"}),
        ("cancel", {"reason": TYPED}),
    ],
)
def test_a_plain_post_after_the_sign_in_ended_shows_what_was_typed_and_saves_nothing(
    ui, waiting, action, form
):
    client = expired(ui)
    url = reverse(f"review:{action}", args=[waiting.pk]) + "?q=tesco"
    response = client.post(url, {"version": waiting.version, **form})

    assert response.status_code == 401
    page = response.content.decode()
    assert "nothing was saved" in page.lower()
    assert TYPED in page
    # Signing in again leads back to where the form was, filters kept.
    link = response.context["sign_in"]
    assert urlsplit(link).path == reverse("accounts:login")
    assert parse_qs(urlsplit(link).query)["next"] == [url]
    assert f'href="{link.replace("&", "&amp;")}"' in page
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.REVIEW
    assert waiting.events.filter(type__in=["comment", "field_corrected"]).count() == 0


def test_a_plain_approve_after_the_sign_in_ended_says_it_was_not_approved(ui, waiting):
    response = expired(ui).post(
        reverse("review:approve", args=[waiting.pk]), {"version": waiting.version}
    )
    assert response.status_code == 401
    assert "nothing was saved or decided" in response.content.decode().lower()
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.REVIEW


ROWS = {
    "description-0": "Milk 2L",
    "quantity-0": "2",
    "amount-0": "1.45",
    "description-1": "خبز 🍞",
    "quantity-1": "1",
    "amount-1": "1,234.5O",
    "description-2": "",
    "quantity-2": "",
    "amount-2": "",
}
SHOWN = 'Line items: <span class="typed">Milk 2L, 2 × 1.45; خبز 🍞, 1 × 1,234.5O</span>'


def test_line_items_posted_after_the_sign_in_ended_are_shown_back(ui, waiting):
    """The refusal pages showed a correction's value, a reason and a comment, but not the
    rows of the line-items form: a table of edits was gone without a word."""
    url = reverse("review:correct_items", args=[waiting.pk])
    response = expired(ui).post(url, {"version": waiting.version, **ROWS})
    assert response.status_code == 401
    assert SHOWN in response.content.decode()


def test_line_items_refused_for_a_renewed_token_are_shown_back(reviewer, waiting, settings):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    stale = str(client.get(reverse("review:detail", args=[waiting.pk])).context["csrf_token"])
    client.cookies.pop(settings.CSRF_COOKIE_NAME)
    client.force_login(reviewer)
    client.get(reverse("review:detail", args=[waiting.pk]))  # a new token
    url = reverse("review:correct_items", args=[waiting.pk])
    response = client.post(url, {"version": waiting.version, **ROWS, "csrfmiddlewaretoken": stale})
    assert response.status_code == 403
    assert SHOWN in response.content.decode()


def correction_form(page: str, field: str) -> dict[str, str]:
    """The hidden fields of a field's correction form, as the page drew them."""
    marker = f'name="field" value="{field}"'
    before, after = page.split(marker, 1)
    form = before.rsplit("<form", 1)[1] + marker + after.split("</form>", 1)[0]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_a_correction_shown_back_is_named_as_the_page_labels_the_field(ui, waiting):
    """The page labels merchantName by the schema's title ("Shop name"); the refusal pages
    listed the typed value as "merchantName: …", a name the reviewer never read there."""
    version = waiting.workflow_version
    properties = {**version.output_schema["properties"]}
    properties["merchantName"] = {**properties["merchantName"], "title": "Shop name"}
    version.output_schema = {**version.output_schema, "properties": properties}
    version.save(update_fields=["output_schema"])
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    form = correction_form(page, "merchantName")
    response = expired(ui).post(
        reverse("review:correct", args=[waiting.pk]), {**form, "value": TYPED}
    )
    assert response.status_code == 401
    shown = response.content.decode()
    assert f'Shop name: <span class="typed">{TYPED}</span>' in shown
    assert "merchantName" not in shown.split("data-not-kept")[1]


def box_label(page: str, action: str, name: str) -> str:
    """The accessible name the page gives the box `name` of the form posting to `action`:
    its aria-label, else the text of its <label for=…>."""
    forms = [form.split("</form>")[0] for form in page.split(f'action="{action}')[1:]]
    boxes = [re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', form) for form in forms]
    box = next(found.group(0) for found in boxes if found)
    if named := re.search(r'aria-label="([^"]+)"', box):
        return named.group(1)
    box_id = re.search(r'id="([^"]+)"', box).group(1)
    return re.search(rf'<label for="{box_id}"[^>]*>([^<]+)</label>', page).group(1).strip()


# The desk forms a reviewer types a reason or a comment into: the page that draws each,
# the view it posts to, the box and the rest of what it sends.
TYPED_BOXES = [
    ("review:detail", "review:reject", "reason", {}),
    ("review:detail", "review:cancel", "reason", {}),
    ("review:detail", "review:comment", "text", {"form_token": "t1"}),
    ("fraud:panel", "fraud:resolve_pair", "reason", {"resolution": "confirmed_fraud"}),
]


@pytest.fixture
def flagged(company, reviewer):
    """A submission with a fraud pair, and a reviewer who may confirm fraud (a lead)."""
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    return flagged_pairs(company)[0]


def refused_box(client: Client, flagged, drawn_by: str, posts_to: str, box: str, extra: dict):
    """The box's label on its page, and the form's address and fields with TYPED in it."""
    page = client.get(reverse(drawn_by, args=[flagged.pk])).content.decode()
    url = reverse(posts_to, args=[flagged.pk])
    forms = [form.split("</form>")[0] for form in page.split(f'action="{url}')[1:]]
    form = next(form for form in forms if f'name="{box}"' in form)
    sent = re.search(r'name="label" value="([^"]*)"', form)  # the form's hidden label
    hidden = {"label": sent.group(1)} if sent else {}
    fields = {"version": flagged.version, box: TYPED, **hidden, **extra}
    return box_label(page, url, box), url, fields


@pytest.mark.parametrize(("drawn_by", "posts_to", "box", "extra"), TYPED_BOXES)
def test_a_reason_or_comment_shown_back_signed_out_is_named_as_its_page_labels_it(
    ui, flagged, drawn_by, posts_to, box, extra
):
    """The 401 page listed the reviewer's text as "reason: …" or "text: …", the form's
    field names, not the box's name on the page they typed it in."""
    label, url, form = refused_box(ui, flagged, drawn_by, posts_to, box, extra)
    response = expired(ui).post(url, form)
    assert response.status_code == 401
    assert f'{label}: <span class="typed">{TYPED}</span>' in response.content.decode()


@pytest.mark.parametrize(("drawn_by", "posts_to", "box", "extra"), TYPED_BOXES)
def test_a_reason_or_comment_refused_for_a_renewed_token_is_named_as_its_page_labels_it(
    reviewer, flagged, settings, drawn_by, posts_to, box, extra
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    label, url, form = refused_box(client, flagged, drawn_by, posts_to, box, extra)
    stale = str(client.get(reverse("review:detail", args=[flagged.pk])).context["csrf_token"])
    client.cookies.pop(settings.CSRF_COOKIE_NAME)
    client.force_login(reviewer)
    client.get(reverse("review:detail", args=[flagged.pk]))  # a new token
    response = client.post(url, {**form, "csrfmiddlewaretoken": stale})
    assert response.status_code == 403
    assert f'{label}: <span class="typed">{TYPED}</span>' in response.content.decode()


@pytest.mark.parametrize(
    ("action", "form", "box"),
    [
        (
            "correct",
            {"field": "merchantName", "value": TYPED},
            f'id="field-merchantName" name="value" value="{TYPED}"',
        ),
        ("reject", {"reason": TYPED}, f"{TYPED}</textarea>"),
        ("cancel", {"reason": TYPED}, f'name="reason" value="{TYPED}"'),
        ("comment", {"text": TYPED, "form_token": "t1"}, f">{TYPED}</textarea>"),
        ("correct_items", ROWS, 'name="description-1" value="خبز 🍞"'),
    ],
)
def test_what_was_typed_is_back_in_its_box_after_signing_in_again(
    ui, reviewer, waiting, action, form, box
):
    """Without JavaScript, a correction, reason or comment sent after the sign-in ended
    was shown on the 401 page to be copied by hand; signing in again led back to the page
    showing the stored value, and what was not copied was gone. It comes back in its box,
    with a word saying it was not saved."""
    url = reverse(f"review:{action}", args=[waiting.pk]) + "?q=tesco"
    response = timed_out(ui).post(url, {"version": waiting.version, **form})
    assert response.status_code == 401
    assert "back in its box" in response.content.decode()

    signed_in = ui.post(
        response.context["sign_in"],
        {"username": reviewer.username, "password": "correct-horse-battery"},
        follow=True,
    )
    assert (
        signed_in.redirect_chain[-1][0] == reverse("review:detail", args=[waiting.pk]) + "?q=tesco"
    )
    page = signed_in.content.decode()
    assert box in page
    assert "Your sign-in had expired, so this was not saved" in page
    waiting.refresh_from_db()
    assert (
        waiting.events.filter(
            type__in=["comment", "field_corrected", "line_items_corrected"]
        ).count()
        == 0
    )
    # Once: a reload shows the stored value again.
    assert box not in ui.get(signed_in.redirect_chain[-1][0]).content.decode()


def test_an_anonymous_post_with_no_session_of_the_servers_keeps_nothing(waiting):
    """Anyone can fetch a CSRF token and post a desk form: what is typed is kept only for
    a browser whose session the server made (a sign-in that ended), else each such post
    wrote a new session row of up to a megabyte."""
    client = Client(enforce_csrf_checks=False)
    client.cookies["sessionid"] = "made-up-session-key-0123456789abcd"
    rows = {f"description-{n}": "x" * 4_000 for n in range(50)}
    before = Session.objects.count()
    response = client.post(
        reverse("review:correct_items", args=[waiting.pk]), {"version": waiting.version, **rows}
    )
    assert response.status_code == 401
    assert "back in its box" not in response.content.decode()
    assert Session.objects.count() == before


def test_what_one_reviewer_typed_is_not_given_to_another_signing_in_on_that_browser(
    ui, company, waiting
):
    """The text is kept in the browser's session, which a sign-in keeps (Django keeps an
    anonymous session's data): on a desk's shared browser, the next reviewer to sign in
    found the last one's correction in its box as their own, "not saved", to save under
    their name."""
    url = reverse("review:correct", args=[waiting.pk])
    form = {"version": waiting.version, "field": "merchantName", "value": TYPED}
    response = timed_out(ui).post(url, form)
    assert "back in its box" in response.content.decode()

    other = factories.UserFactory(username="bob", companies=[company])
    signed_in = ui.post(
        response.context["sign_in"],
        {"username": other.username, "password": "correct-horse-battery"},
        follow=True,
    )
    assert signed_in.wsgi_request.user == other
    assert signed_in.redirect_chain[-1][0] == reverse("review:detail", args=[waiting.pk])
    page = signed_in.content.decode()
    assert 'id="field-merchantName" name="value" value="' in page  # the box is there
    assert TYPED not in page
    assert "Your sign-in had expired" not in page


def test_text_typed_twice_after_the_sign_in_ended_still_comes_back_to_its_reviewer(
    ui, reviewer, waiting
):
    """A second plain post from the same signed-out page (its session now the one the
    first post's text is kept in) keeps its text for the same reviewer."""
    url = reverse("review:correct", args=[waiting.pk])
    timed_out(ui).post(url, {"version": waiting.version, "field": "merchantName", "value": "x"})
    second = ui.post(url, {"version": waiting.version, "field": "merchantName", "value": TYPED})
    assert "back in its box" in second.content.decode()
    ui.post(
        second.context["sign_in"],
        {"username": reviewer.username, "password": "correct-horse-battery"},
    )
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    assert f'id="field-merchantName" name="value" value="{TYPED}"' in page


@pytest.mark.parametrize(
    ("action", "form", "press", "stored"),
    [
        (
            "correct",
            {"field": "merchantName", "value": "Mine"},
            "save:merchantName",
            lambda d: d["merchantName"],
        ),
        (
            "correct_items",
            {"description-0": "Mine", "quantity-0": "1", "amount-0": "2"},
            "save-items",
            lambda d: d["lineItems"][0]["description"],
        ),
    ],
)
def test_a_correction_kept_through_sign_in_does_not_overwrite_what_another_saved_meanwhile(
    ui, reviewer, company, waiting, action, form, press, stored
):
    """Bob corrected the field while the reviewer signed in again: the page they came
    back to was drawn after his save and its form carried that version, so Save put
    the kept text over bob's value without a word. It is checked at the version it was
    typed on, as htmx checks a kept draft."""
    url = reverse(f"review:{action}", args=[waiting.pk])
    response = timed_out(ui).post(url, {"version": waiting.version, **form})
    assert response.status_code == 401

    bob = factories.UserFactory(username="bob", companies=[company])
    if action == "correct":
        submission_correct_field(
            submission_id=waiting.pk,
            field_name="merchantName",
            raw_value="Bob's",
            actor=Actor.for_user(bob),
            page_version=waiting.version,
        )
    else:
        submission_correct_line_items(
            submission_id=waiting.pk,
            rows=[LineItemRow(description="Bob's", quantity="1", amount="2")],
            actor=Actor.for_user(bob),
            page_version=waiting.version,
        )
    submission_release_claim(submission_id=waiting.pk, user=bob)

    signed_in = ui.post(
        response.context["sign_in"],
        {"username": reviewer.username, "password": "correct-horse-battery"},
        follow=True,
    )
    url, data = _Page(signed_in.content.decode()).press(press)
    page = ui.post(url, data, follow=True).content.decode()
    assert "changed since you opened it (bob corrected it)" in page
    waiting.refresh_from_db()
    assert stored(waiting.extracted_data) == "Bob's"


@pytest.mark.parametrize("press", ["take-over", "approve"])
def test_text_a_claim_button_carried_after_the_sign_in_ended_comes_back(
    ui, reviewer, company, press
):
    """A save refused while bob held the submission brought the text back, and Take over
    (or Approve) on that page submits the form holding it; pressed after the sign-in
    ended, it was refused (401) and the text, kept for a Save or a Reject, was not kept
    for it: signing in again led back to the stored value. It is back in its box, and
    nothing was taken over or approved."""
    from submissions.services import submission_claim
    from tests.submissions.test_plain_take_over_keeps_typed import _page, _sent

    held = submission_with_file(company, extracted_data={"merchantName": "Kedai Runcit"})
    bob = factories.UserFactory(username="bob", companies=[company])
    submission_claim(submission_id=held.pk, user=bob)
    held.refresh_from_db()
    refused = _sent(ui, _page(ui, held), "save:merchantName", {"value": TYPED})
    assert "bob is reviewing this submission" in refused

    url, data = _Page(refused).press(press)
    response = timed_out(ui).post(url, data)
    assert response.status_code == 401
    assert "back in its box" in response.content.decode()
    signed_in = ui.post(
        response.context["sign_in"],
        {"username": reviewer.username, "password": "correct-horse-battery"},
        follow=True,
    )
    page = signed_in.content.decode()
    assert f'id="field-merchantName" name="value" value="{TYPED}"' in page
    assert "Your sign-in had expired, so this was not saved" in page
    held.refresh_from_db()
    assert held.claimed_by == bob and held.status == SubmissionStatus.REVIEW
    assert held.extracted_data["merchantName"] == "Kedai Runcit"
