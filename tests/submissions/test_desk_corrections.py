"""Corrections at the review desk from a page drawn before other changes: refused as stale
only when what they overwrite or depend on changed since (that field, corrected by
someone else; the submission's state; another reviewer's claim), never because the
reviewer's own save of another field landed first. The API's expectedVersion stays strict."""

import copy
import re
import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from fraud.services import fraud_matches_resolve, fraud_refresh, match_pair
from jobs.extraction.schemas import OUTPUT_SCHEMAS
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from submissions.services import (
    Actor,
    read_with_currency,
    submission_claim,
    submission_correct_field,
    submission_correct_fields,
    submission_reject,
    submission_release_claim,
)
from tests import factories
from tests.submissions.test_review_support import flagged_pairs, submission_with_file

pytestmark = pytest.mark.django_db
S = SubmissionStatus


@pytest.fixture
def waiting(company):
    return submission_with_file(company)


def correct(client: Client, submission: Submission, version: int, field: str, value: str):
    """A field's Save on the desk, as htmx sends it, from a page drawn at `version`."""
    return client.post(
        reverse("review:correct", args=[submission.pk]),
        {"version": version, "field": field, "value": value},
        HTTP_HX_REQUEST="true",
    )


def stored(submission: Submission) -> dict:
    submission.refresh_from_db()
    return submission.extracted_data


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_two_quick_saves_of_different_fields_from_one_page_both_land(ui, waiting):
    opened = waiting.version
    first = correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju")
    # Sent before the first answer came back: the page still carries the version it had.
    second = correct(ui, waiting, opened, "date", "2026-11-30")
    assert first.status_code == 200 and second.status_code == 200, second.content
    assert b"data-refusal" not in second.content
    assert stored(waiting)["merchantName"] == "Kedai Runcit Maju"
    assert stored(waiting)["date"] == "2026-11-30"
    corrected = waiting.events.filter(type="field_corrected")
    assert sorted(e.details["field"] for e in corrected) == ["date", "merchantName"]
    # The answer shows both, under the newest version.
    html = second.content.decode()
    assert f'data-version="{waiting.version}"' in html and 'value="2026-11-30"' in html


def test_line_items_saved_right_after_another_field_from_the_same_page_land(ui, company):
    waiting = submission_with_file(company)
    opened = waiting.version
    assert correct(ui, waiting, opened, "totalAmount", "4.50").status_code == 200
    items = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {"version": opened, "description-0": "Bread", "quantity-0": "1", "amount-0": "4.50"},
        HTTP_HX_REQUEST="true",
    )
    assert items.status_code == 200
    assert stored(waiting)["lineItems"] == [
        {"description": "Bread", "quantity": 1.0, "amount": 4.5}
    ]
    assert stored(waiting)["totalAmount"] == 4.5


def test_a_reviewers_second_save_of_the_same_field_in_flight_lands_last(ui, waiting):
    opened = waiting.version
    assert correct(ui, waiting, opened, "merchantName", "Kedai").status_code == 200
    assert correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju").status_code == 200
    assert stored(waiting)["merchantName"] == "Kedai Runcit Maju"


@pytest.mark.parametrize(
    "actor",
    [Actor.system(), Actor("api_key", "key_1", "API key ops")],
    ids=["system", "api"],
)
def test_a_field_corrected_by_anyone_else_since_the_page_was_drawn_is_refused(ui, waiting, actor):
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk, field_name="merchantName", raw_value="Kedai Baru", actor=actor
    )
    refused = correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju")
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "Merchant name changed since you opened it" in html and actor.label in html
    assert 'data-code="SUBMISSION_CHANGED"' in html
    assert stored(waiting)["merchantName"] == "Kedai Baru"
    # Another field of the same page is not stale: nothing it overwrites changed.
    assert correct(ui, waiting, opened, "totalAmount", "13.00").status_code == 200
    assert stored(waiting)["totalAmount"] == 13.0


def test_two_reviewers_correcting_the_same_field_get_one_winner_and_a_clear_refusal(
    ui, reviewer, company, waiting
):
    other = factories.UserFactory(username="bob", companies=[company])
    bob = signed_in(other)
    opened = waiting.version
    won = correct(bob, waiting, opened, "merchantName", "Kedai Bob")
    lost = correct(ui, waiting, opened, "merchantName", "Kedai Alice")
    assert won.status_code == 200 and lost.status_code == 409
    assert "Merchant name changed since you opened it (bob corrected it)" in lost.content.decode()
    assert stored(waiting)["merchantName"] == "Kedai Bob"
    # Bob's save claimed the submission: another field from the old page is refused too.
    assert correct(ui, waiting, opened, "totalAmount", "1.00").status_code == 409
    assert stored(waiting)["totalAmount"] == 12.5


def test_a_same_field_refusal_names_the_field_as_the_page_labels_it(ui, waiting):
    """The reviewer reads the schema's title on the page ("Shop"), not its key."""
    version = waiting.workflow_version
    schema = dict(version.output_schema)
    properties = {**schema["properties"]}
    properties["merchantName"] = {**properties["merchantName"], "title": "Shop"}
    version.output_schema = {**schema, "properties": properties}
    version.save(update_fields=["output_schema"])
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk,
        field_name="merchantName",
        raw_value="Kedai Baru",
        actor=Actor.system(),
    )
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    assert ">Shop</label>" in page
    refused = correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju")
    html = refused.content.decode()
    assert refused.status_code == 409
    assert "Shop changed since you opened it (Steve corrected it)" in html
    assert "merchantName changed" not in html


def test_a_refused_line_items_save_is_named_as_the_page_heads_them(ui, waiting):
    opened = waiting.version
    submission_correct_fields(
        submission_id=waiting.pk,
        values={"lineItems": [{"description": "Tea", "quantity": 1, "amount": 2.5}]},
        actor=Actor.system(),
    )
    refused = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {"version": opened, "description-0": "Bread", "quantity-0": "1", "amount-0": "4.50"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 409
    assert "Line items changed since you opened it (Steve corrected it)" in refused.content.decode()


API_KEY = Actor("api_key", "key_1", "API key ops")


@pytest.mark.parametrize("field", ["totalAmount", "taxAmount"])
def test_an_amount_corrected_after_someone_else_changed_the_currency_is_refused_naming_both(
    ui, waiting, field
):
    """60.00 typed as ringgit means something else once the currency reads USD."""
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk, field_name="currency", raw_value="USD", actor=API_KEY
    )
    refused = correct(ui, waiting, opened, field, "60.00")
    assert refused.status_code == 409
    html = refused.content.decode()
    label = {"totalAmount": "Total amount", "taxAmount": "Tax amount"}[field]
    assert (
        f"Currency changed since you opened it (API key ops corrected it), and {label} is "
        "an amount in that currency; review both before saving yours."
    ) in html
    assert 'data-code="SUBMISSION_CHANGED"' in html
    assert stored(waiting).get(field) != 60.0
    # A field that is no amount is not read in the currency: it lands.
    assert correct(ui, waiting, opened, "merchantName", "Kedai Maju").status_code == 200


def test_line_items_saved_after_someone_else_changed_the_currency_are_refused(ui, waiting):
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk, field_name="currency", raw_value="USD", actor=Actor.system()
    )
    refused = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {"version": opened, "description-0": "Bread", "quantity-0": "1", "amount-0": "4.50"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 409
    assert (
        "Currency changed since you opened it (Steve corrected it), and Line items is an "
        "amount in that currency"
    ) in refused.content.decode()
    assert "lineItems" not in stored(waiting)


def test_a_currency_corrected_after_someone_else_changed_the_total_is_refused_naming_both(
    ui, waiting
):
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk, field_name="totalAmount", raw_value="55.00", actor=API_KEY
    )
    refused = correct(ui, waiting, opened, "currency", "USD")
    assert refused.status_code == 409
    assert (
        "Total amount changed since you opened it (API key ops corrected it), and it is an "
        "amount in the Currency you are changing; review both before saving yours."
    ) in refused.content.decode()
    assert stored(waiting)["currency"] == "MYR"


def test_a_reviewers_own_currency_and_total_from_one_page_both_land(ui, waiting):
    opened = waiting.version
    assert correct(ui, waiting, opened, "currency", "USD").status_code == 200
    assert correct(ui, waiting, opened, "totalAmount", "60.00").status_code == 200
    assert correct(ui, waiting, opened, "currency", "SGD").status_code == 200
    assert stored(waiting)["currency"] == "SGD" and stored(waiting)["totalAmount"] == 60.0


def test_amounts_are_read_with_the_currency_only_in_a_schema_that_has_one():
    receipt = OUTPUT_SCHEMAS["receipt"]["properties"]
    assert sorted(read_with_currency(receipt, "currency")) == [
        "lineItems",
        "taxAmount",
        "totalAmount",
    ]
    assert read_with_currency(receipt, "totalAmount") == ["currency"]
    assert read_with_currency(receipt, "lineItems") == ["currency"]
    assert read_with_currency(receipt, "merchantName") == []
    assert read_with_currency(receipt, "date") == []
    no_currency = {k: v for k, v in receipt.items() if k != "currency"}
    assert read_with_currency(no_currency, "totalAmount") == []
    nullable = {"currency": {"type": "string"}, "tip": {"type": ["number", "null"]}}
    assert read_with_currency(nullable, "tip") == ["currency"]


@pytest.mark.parametrize("change", ["rejected", "fraud", "claimed and released"])
def test_a_change_of_state_or_claim_since_the_page_was_drawn_refuses_any_correction(
    ui, company, change
):
    waiting = submission_with_file(company)
    opened = waiting.version
    other = factories.UserFactory(companies=[company])
    if change == "rejected":
        submission_reject(submission_id=waiting.pk, actor=Actor.for_user(other), reason="Dup.")
    elif change == "fraud":
        earlier = submission_with_file(company)
        match_pair(
            company_id=company.pk,
            submission_id=waiting.pk,
            other_id=earlier.pk,
            check_type="visual",
            score=77.0,
            similarity=0.9,
        )
        fraud_refresh(submission_id=waiting.pk, reason={})
    else:
        submission_claim(submission_id=waiting.pk, user=other)
        submission_release_claim(submission_id=waiting.pk, user=other)
    refused = correct(ui, waiting, opened, "totalAmount", "99.00")
    assert refused.status_code == 409
    assert b"changed since you opened it" in refused.content
    assert stored(waiting)["totalAmount"] == 12.5


def fraud_panel_post(client: Client, name: str, submission: Submission, pair, **data: str):
    """The fraud panel's False positive (fraud:resolve_pair) or Undo (fraud:undo)."""
    submission.refresh_from_db()
    post = {"version": submission.version, "match": [m.pk for m in pair], **data}
    return client.post(reverse(name, args=[submission.pk]), post, HTTP_HX_REQUEST="true")


def test_a_reviewers_own_fraud_resolution_or_undo_does_not_make_their_correction_stale(ui, company):
    """False positive, then a save sent before the side column came back with the new
    version: the only change since is the reviewer's own resolution. Undo the same."""
    waiting, [pair] = flagged_pairs(company)
    opened = waiting.version
    resolved = fraud_panel_post(
        ui, "fraud:resolve_pair", waiting, pair, resolution="false_positive"
    )
    assert resolved.status_code == 200, resolved.content
    saved = correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju")
    assert saved.status_code == 200, saved.content
    assert b"data-refusal" not in saved.content
    assert stored(waiting)["merchantName"] == "Kedai Runcit Maju"

    drawn = waiting.version  # the page as that save's answer drew it
    undone = fraud_panel_post(ui, "fraud:undo", waiting, pair)
    assert undone.status_code == 200, undone.content
    assert waiting.fraud_matches.filter(resolution__isnull=True).count() == 2
    saved = correct(ui, waiting, drawn, "totalAmount", "13.00")
    assert saved.status_code == 200, saved.content
    assert stored(waiting)["totalAmount"] == 13.0


def test_a_fraud_resolution_by_anyone_else_still_makes_a_correction_stale(ui, reviewer, company):
    """An integrator's resolution (the API claims nothing) may change what the reviewer
    sees: their correction from the page drawn before it is refused."""
    waiting, [pair] = flagged_pairs(company)
    opened = waiting.version
    submission_claim(submission_id=waiting.pk, user=reviewer)
    waiting.refresh_from_db()
    drawn = waiting.version
    fraud_matches_resolve(
        submission_id=waiting.pk,
        match_ids=[m.pk for m in pair],
        resolution="false_positive",
        actor=Actor("api_key", "key_1", "API key ops"),
    )
    refused = correct(ui, waiting, drawn, "merchantName", "Kedai Runcit Maju")
    assert refused.status_code == 409
    assert b"The submission changed since you opened it" in refused.content
    assert stored(waiting)["merchantName"] == "Kedai Runcit"
    assert correct(ui, waiting, opened, "merchantName", "Kedai Maju").status_code == 409


def test_a_page_version_the_submission_never_had_is_refused(ui, waiting):
    assert correct(ui, waiting, waiting.version + 1, "totalAmount", "1.00").status_code == 409
    assert stored(waiting)["totalAmount"] == 12.5


def test_the_apis_expected_version_stays_strict_after_a_change_of_another_field(ui, api, waiting):
    opened = waiting.version
    assert correct(ui, waiting, opened, "merchantName", "Kedai Runcit Maju").status_code == 200
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"totalAmount": 20.0}, "expectedVersion": opened},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "SUBMISSION_CHANGED"
    assert stored(waiting)["totalAmount"] == 12.5


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_saving_the_same_field_at_the_same_moment_get_exactly_one_winner(company):
    """Both saves wait on the row lock and go on together: the second one in must see
    the first one's correction, not overwrite it."""
    waiting = submission_with_file(company)
    opened = waiting.version
    users = [factories.UserFactory(companies=[company]) for _ in range(2)]
    outcomes: dict[str, str] = {}

    def save(user) -> None:
        try:
            submission_correct_field(
                submission_id=waiting.pk,
                field_name="merchantName",
                raw_value=f"Kedai {user.username}",
                actor=Actor.for_user(user),
                page_version=opened,
            )
            outcomes[user.username] = "saved"
        except Exception as error:  # the refusal is what is checked
            outcomes[user.username] = getattr(error, "code", repr(error))
        finally:
            connection.close()

    with transaction.atomic():
        Submission.objects.select_for_update().get(pk=waiting.pk)
        threads = [threading.Thread(target=save, args=(user,)) for user in users]
        for thread in threads:
            thread.start()
        threads[0].join(0.5)  # both are waiting for the row now
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes.values()) == ["SUBMISSION_CHANGED", "saved"], outcomes
    [winner] = [name for name, outcome in outcomes.items() if outcome == "saved"]
    assert stored(waiting)["merchantName"] == f"Kedai {winner}"
    assert waiting.events.filter(type="field_corrected").count() == 1


# --- Numbers as typed ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["12,50", "1,2,3", "1,25", "12,500,0", "1_250", "12_50"])
def test_a_decimal_comma_or_a_stray_separator_is_refused_not_read_as_a_larger_number(
    ui, waiting, typed
):
    """A comma groups thousands (1,250.50); "12,50" typed with a decimal comma was stored
    as 1250 without a word, a hundred times the receipt's total."""
    response = correct(ui, waiting, waiting.version, "totalAmount", typed)
    assert response.status_code == 422
    assert "a comma only separates thousands, as in 1,250.50" in response.content.decode()
    assert stored(waiting)["totalAmount"] == 12.5


@pytest.mark.parametrize(
    "typed, kept", [("1,250.50", 1250.5), ("12,345,678", 12345678.0), ("-1,000", -1000.0)]
)
def test_thousands_separated_by_commas_are_read_as_typed(ui, waiting, typed, kept):
    assert correct(ui, waiting, waiting.version, "totalAmount", typed).status_code == 200
    assert stored(waiting)["totalAmount"] == kept


def test_a_line_items_amount_with_a_decimal_comma_is_refused_naming_its_row(ui, waiting):
    response = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {"version": waiting.version, "description-0": "Milo", "quantity-0": "1,5", "amount-0": "3"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "Row 1: the quantity must be a number above zero" in response.content.decode()
    response = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {"version": waiting.version, "description-0": "Milo", "amount-0": "12,50"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "Row 1: enter the amount as a number" in response.content.decode()
    assert "lineItems" not in stored(waiting)


def test_a_number_with_more_digits_than_are_kept_is_refused_not_rounded(ui, waiting):
    """A stored number keeps about 15 significant digits: 99999999999999.9999 was stored
    as 100000000000000 (the docs: "never rounded")."""
    response = correct(ui, waiting, waiting.version, "totalAmount", "99999999999999.9999")
    assert response.status_code == 422
    assert "more digits than can be kept exactly" in response.content.decode()
    assert stored(waiting)["totalAmount"] == 12.5
    assert (
        correct(ui, waiting, waiting.version, "totalAmount", "123456789012.3456").status_code == 200
    )
    assert stored(waiting)["totalAmount"] == 123456789012.3456


# --- Dates and times as typed --------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, said",
    [
        # Day first, as printed on a receipt: the page says the form it takes.
        ("31/02/2024", "is not a date as YYYY-MM-DD, e.g. 2024-02-29"),
        ("02/03/2024", "is not a date as YYYY-MM-DD, e.g. 2024-02-29"),
        ("2024-2-9", "is not a date as YYYY-MM-DD, e.g. 2024-02-29"),
        # The right form, but no such day.
        ("2024-02-31", "2024-02-31&quot; is not a day of the calendar"),
        ("2023-02-29", "2023-02-29&quot; is not a day of the calendar"),
    ],
)
def test_a_date_not_written_as_the_field_takes_it_is_refused_saying_how_to_write_it(
    ui, waiting, typed, said
):
    """Refused with jsonschema's words ("31/02/2024" is not a 'date'), the reviewer was
    told neither the form a date takes nor that February has no 31st."""
    response = correct(ui, waiting, waiting.version, "date", typed)
    assert response.status_code == 422
    page = response.content.decode()
    assert said in page
    assert "is not a &#x27;date&#x27;" not in page
    assert "date" not in stored(waiting)


FORM = "is not in the form this field takes"


@pytest.mark.parametrize(
    "field, typed, said",
    [
        ("time", "9.30pm", f"{FORM}: a time as HH:MM (24-hour), e.g. 21:30"),
        (
            "currency",
            "myr",
            f"{FORM}: a currency as its three-letter code in capitals (ISO 4217), e.g. MYR",
        ),
    ],
)
def test_a_time_or_currency_not_written_as_the_field_takes_it_is_refused_saying_how(
    ui, waiting, field, typed, said
):
    """Refused with the schema's pattern (does not match '^([01]\\d|2[0-3]):[0-5]\\d$'),
    the reviewer had to read a regular expression. The words are the built-in schema's
    own description and example."""
    before = stored(waiting).get(field)
    response = correct(ui, waiting, waiting.version, field, typed)
    assert response.status_code == 422
    page = response.content.decode()
    assert said in page
    assert "does not match &#x27;" not in page
    assert stored(waiting).get(field) == before


def patterned(submission: Submission, field: str, **annotations: object) -> None:
    """An admin's own form for `field`: an invoice number's, with `annotations`."""
    version = submission.workflow_version
    schema = copy.deepcopy(version.output_schema)
    schema["properties"][field] = {"type": "string", "pattern": r"^INV-\d{6}$", **annotations}
    version.output_schema = schema
    version.save(update_fields=["output_schema"])


INVOICE_NUMBER = {"description": "the number printed top right", "examples": ["INV-004211"]}


def test_a_value_not_in_an_admins_own_pattern_is_refused_with_the_fields_example(ui, waiting):
    """The words came from a table of the built-in schemas' patterns: an admin's own
    pattern was refused as "does not match '^INV-\\\\d{6}$'"."""
    patterned(waiting, "receiptNumber", **INVOICE_NUMBER)
    response = correct(ui, waiting, waiting.version, "receiptNumber", "4211")
    assert response.status_code == 422
    page = response.content.decode()
    said = f"{FORM}: the number printed top right, e.g. INV-004211"
    assert f"Invalid value for Receipt number: &quot;4211&quot; {said}." in page
    assert "does not match &#x27;" not in page
    assert "receiptNumber" not in stored(waiting)
    assert correct(ui, waiting, waiting.version, "receiptNumber", "INV-004211").status_code == 200


def test_the_api_refuses_a_value_not_in_an_admins_own_pattern_with_the_same_words(api, waiting):
    patterned(waiting, "receiptNumber", **INVOICE_NUMBER)
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"receiptNumber": "inv-4211"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("fields.receiptNumber", "invalid")
    said = f"{FORM}: the number printed top right, e.g. INV-004211."
    assert error["message"].endswith(f'"inv-4211" {said}')


@pytest.mark.parametrize(
    "annotations, said",
    [
        ({"examples": ["INV-004211", "INV-000001"]}, f"{FORM}, e.g. INV-004211"),
        ({"description": "the number printed top right."}, f"{FORM}: the number printed top right"),
        # A version published without either (the built-in schemas before they had them)
        # still says what is wrong, and the form as the schema writes it, unescaped.
        ({}, f"{FORM} (pattern ^INV-\\d{{6}}$)"),
    ],
)
def test_a_pattern_refusal_says_what_the_field_gives_of_its_form(api, waiting, annotations, said):
    patterned(waiting, "receiptNumber", **annotations)
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"receiptNumber": "4211"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["message"].endswith(f'"4211" {said}.')


def test_the_api_refuses_an_impossible_date_with_the_same_words(api, waiting):
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"date": "2024-02-31"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert '\\"2024-02-31\\" is not a day of the calendar' in response.content.decode()


# --- Fields named as the page labels them ---------------------------------------------------


def titled(submission: Submission, field: str, title: str) -> None:
    """Give `field` a title in the submission's output schema (the page's label for it)."""
    version = submission.workflow_version
    schema = dict(version.output_schema)
    properties = {**schema["properties"]}
    properties[field] = {**properties[field], "title": title}
    version.output_schema = {**schema, "properties": properties}
    version.save(update_fields=["output_schema"])


def test_a_refused_value_names_the_field_as_the_page_labels_it(ui, waiting):
    """The page labels a field by its schema's title ("Receipt date"), else by its key
    spelt out ("Total amount"); its refusal said "Invalid value for date", a name the
    reviewer reads nowhere on the page."""
    titled(waiting, "date", "Receipt date")
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    assert ">Receipt date</label>" in page and ">Total amount</label>" in page
    refused = correct(ui, waiting, waiting.version, "date", "31/02/2024")
    html = refused.content.decode()
    assert refused.status_code == 422
    assert "Invalid value for Receipt date: &quot;31/02/2024&quot; is not a date" in html
    assert "for date" not in html
    html = correct(ui, waiting, waiting.version, "totalAmount", "1.23456").content.decode()
    assert "Invalid value for Total amount: the number has more than 4 decimal places" in html
    assert "totalAmount" not in html.split("data-refusal")[1].split("</p>")[0]
    html = correct(ui, waiting, waiting.version, "lineItems", "x").content.decode()
    assert "Line items is not a field that can be corrected here." in html
    # A plain post's page says the same at the field.
    response = ui.post(
        reverse("review:correct", args=[waiting.pk]),
        {"version": waiting.version, "field": "date", "value": "31/02/2024"},
        follow=True,
    )
    assert "Invalid value for Receipt date:" in response.content.decode()
    assert "date" not in stored(waiting)


def test_the_apis_corrections_still_name_a_refused_field_by_its_api_name(api, waiting):
    """API callers know fields by their keys: the problem details keep them."""
    titled(waiting, "date", "Receipt date")
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"date": "31/02/2024", "colour": "red"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    body = response.content.decode()
    assert "Receipt date" not in body
    assert [e["field"] for e in response.json()["errors"]] == ["fields.date", "fields.colour"]
    assert "colour is not a field of this workflow." in body


def correction_input(page: str, field: str) -> str:
    """The correction input of `field` on the drawn page, as one tag."""
    found = re.search(rf'<input id="field-{field}"[^>]*>', page)
    assert found, f"no correction input for {field}"
    return found.group(0)


def test_a_fields_form_is_shown_before_a_save_as_its_schema_annotates_it(ui, waiting):
    """A reviewer learnt a time's form ("HH:MM, e.g. 21:30") only from a refused save:
    the input shows the schema's first example and reads its description with it."""
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    time_input = correction_input(page, "time")
    assert 'placeholder="e.g. 21:30"' in time_input
    assert "field-time-hint" in time_input.split('aria-describedby="')[1].split('"')[0]
    assert '<p class="hint form-hint" id="field-time-hint">a time as HH:MM (24-hour)</p>' in page
    # A field whose schema says nothing of its form has neither.
    merchant = correction_input(page, "merchantName")
    assert "placeholder" not in merchant and "field-merchantName-hint" not in page


def test_an_admins_own_schema_annotations_are_shown_escaped_and_a_long_description_is_not(
    ui, waiting
):
    version = waiting.workflow_version
    schema = dict(version.output_schema)
    properties = {**schema["properties"]}
    properties["receiptNumber"] = {
        **properties["receiptNumber"],
        "description": 'the number as printed <b>"No."</b>',
        "examples": ['R-<001>"'],
    }
    properties["merchantName"] = {**properties["merchantName"], "description": "x" * 201}
    properties["date"] = {**properties["date"], "examples": [20240229]}
    version.output_schema = {**schema, "properties": properties}
    version.save(update_fields=["output_schema"])
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    assert 'placeholder="e.g. R-&lt;001&gt;&quot;"' in correction_input(page, "receiptNumber")
    assert "the number as printed &lt;b&gt;&quot;No.&quot;&lt;/b&gt;</p>" in page
    assert "<b>" not in page
    # Longer than a hint (it documents the field, not its form): left out, as in a refusal.
    assert "field-merchantName-hint" not in page and "x" * 201 not in page
    assert 'placeholder="e.g. 20240229"' in correction_input(page, "date")


def test_a_read_only_page_shows_no_form_hints(waiting, company):
    client = signed_in(factories.member(company, role=Membership.Role.VIEWER))
    page = client.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    assert "data-read-only" in page and "field-time-hint" not in page


# A field whose forms are branches (anyOf/oneOf) of patterns: refused in the same words.
INVOICE_OR_CREDIT_NOTE = {
    "anyOf": [
        {
            "type": "string",
            "pattern": r"^INV-\d{6}$",
            "description": "an invoice number",
            "examples": ["INV-004211"],
        },
        {"type": "string", "pattern": r"^CN-\d{4}$", "description": "a credit note number"},
        {"type": "null"},
    ]
}


def branched(submission: Submission, field: str, spec: dict) -> None:
    version = submission.workflow_version
    schema = copy.deepcopy(version.output_schema)
    schema["properties"][field] = spec
    version.output_schema = schema
    version.save(update_fields=["output_schema"])


BRANCH_FORMS = (
    "is not in any of the forms this field takes: an invoice number, e.g. INV-004211; "
    "or a credit note number"
)


@pytest.mark.parametrize("keyword", ["anyOf", "oneOf"])
def test_a_value_no_branch_pattern_takes_is_refused_in_the_branches_words_over_the_api(
    api, waiting, keyword
):
    """jsonschema refuses it as '"4211" is not valid under any of the given schemas':
    the caller learnt neither what was wrong nor what to send."""
    branched(waiting, "receiptNumber", {keyword: INVOICE_OR_CREDIT_NOTE["anyOf"]})
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"receiptNumber": "4211"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    body = response.json()
    [error] = body["errors"]
    assert error["field"] == "fields.receiptNumber"
    assert error["message"].endswith(f'"4211" {BRANCH_FORMS}.')
    assert BRANCH_FORMS in body["detail"]
    assert "given schemas" not in response.content.decode()


def test_a_value_no_branch_pattern_takes_is_refused_in_the_branches_words_on_the_desk(ui, waiting):
    branched(waiting, "receiptNumber", INVOICE_OR_CREDIT_NOTE)
    response = correct(ui, waiting, waiting.version, "receiptNumber", "4211")
    assert response.status_code == 422
    page = response.content.decode()
    assert f"Invalid value for Receipt number: &quot;4211&quot; {BRANCH_FORMS}." in page
    assert "given schemas" not in page
    assert correct(ui, waiting, waiting.version, "receiptNumber", "CN-0042").status_code == 200


@pytest.mark.parametrize(
    "spec, said",
    [
        pytest.param(
            {**INVOICE_OR_CREDIT_NOTE, "description": "the number printed top right"},
            f"{FORM}: the number printed top right",
            id="the field's own description first",
        ),
        pytest.param(
            {"anyOf": [{"type": "string", "pattern": r"^INV-\d{6}$"}, {"type": "integer"}]},
            f"{FORM} (pattern ^INV-\\d{{6}}$)",
            id="one branch takes text: its pattern as written",
        ),
        pytest.param(
            {"type": "string", "oneOf": [{"pattern": r"^INV-\d{6}$"}, {"pattern": r"^CN-\d{4}$"}]},
            "is not in any of the forms this field takes: pattern ^INV-\\d{6}$; "
            "or pattern ^CN-\\d{4}$",
            id="branches without words: their patterns",
        ),
    ],
)
def test_a_branch_pattern_refusal_says_what_the_schema_gives_of_its_forms(api, waiting, spec, said):
    branched(waiting, "receiptNumber", spec)
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"receiptNumber": "4211"}},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["message"].endswith(f'"4211" {said}.')


def test_a_line_items_branch_pattern_is_refused_in_its_words_naming_the_member(api, waiting):
    items = copy.deepcopy(OUTPUT_SCHEMAS["receipt"]["properties"]["lineItems"])
    items["items"]["properties"]["sku"] = {
        "anyOf": [
            {"type": "string", "pattern": "^[A-Z]{3}-\\d+$", "examples": ["ABC-1"]},
            {"type": "integer"},
        ]
    }
    branched(waiting, "lineItems", items)
    row = {"description": "Teh tarik", "quantity": 1, "amount": 2.5, "sku": "abc"}
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"lineItems": [row]}},
        format="json",
    )
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "fields.lineItems[0].sku"
    assert error["message"].endswith(f'"abc" {FORM}, e.g. ABC-1.')
