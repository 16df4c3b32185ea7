"""What a PDF's page shows, where its text layer says otherwise, goes to fraud's data check.

jobs.extraction.shown records it on the field's box (``shown``); shown_fields reads it
back as the field's value, parsed as the field was, and the pipeline hands it to
fraud_run_checks. The pipeline runs with the real OCR engine (~2 s a receipt)."""

import datetime as dt
from decimal import Decimal

import pytest

from fraud.models import DataFingerprint, FraudMatch
from jobs import pipeline
from jobs.extraction.shown import shown_fields
from jobs.models import WorkflowSession
from tests.jobs.fixtures_docs import receipt_pdf, receipt_pdf_whose_font_lies
from tests.jobs.test_hostile_files import submit


def boxes(*shown: str | None) -> list[dict]:
    return [{"page": 0, "bbox": [0, 0, 1, 1], **({"shown": s} if s else {})} for s in shown]


def test_the_fields_a_page_shows_otherwise_are_read_as_it_shows_them():
    fields = {
        "merchantName": "PODRT BLPL GRYL SDN BHD",
        "totalAmount": 26.8,
        "date": "2018-03-17",
        "invoiceNumber": "INV-0071",
        "time": "10:25",
    }
    evidence = {
        "merchantName": boxes("KEDAI BUKU MAJU SDN BHD"),
        "totalAmount": boxes("RM 17.90"),
        "date": boxes(None, "14/03/2018"),
        "invoiceNumber": boxes("INV-0017"),
        "time": boxes("10:52"),  # not a checked field: never read again
    }
    assert shown_fields(fields, evidence) == {
        "merchantName": "KEDAI BUKU MAJU SDN BHD",
        "totalAmount": Decimal("17.90"),
        "date": "2018-03-14",
        "invoiceNumber": "INV-0017",
    }


def test_a_page_showing_nothing_the_field_parses_as_is_left_as_read():
    fields = {"totalAmount": 17.9, "invoiceDate": "2018-03-14", "vendorName": "ACME"}
    evidence = {
        "totalAmount": boxes("17.90 26.80"),  # two amounts: which one is not known
        "invoiceDate": boxes("MARCH"),
        "vendorName": boxes("  "),
    }
    assert shown_fields(fields, evidence) == {}


def test_an_honest_pdf_has_no_fields_shown_otherwise():
    fields = {"totalAmount": 17.9, "date": dt.date(2018, 3, 14).isoformat()}
    assert shown_fields(fields, {"totalAmount": boxes(None), "date": [{"read": 1}]}) == {}
    assert shown_fields(fields, {}) == {}


# The shop's name and date rows drawn in a font whose text layer reads "KEDAI BUKU MAJU
# SDN BHD" as "PODRT BLPL GRYL SDN BHD" and the date 14/03/2018 as 17/03/2018: an edited
# copy of an earlier receipt whose invisible text names another shop and day.
ANOTHER_SHOP_AND_DAY = {"K": "P", "E": "O", "A": "R", "I": "T", "U": "L", "M": "G", "J": "Y"}
ANOTHER_SHOP_AND_DAY |= {"4": "7"}


def processed(api, data: bytes, client_id: str):
    session_id = submit(api, data, client_id, "application/pdf")
    pipeline.run(session_id)
    return WorkflowSession.objects.select_related("submission").get(pk=session_id).submission


@pytest.mark.django_db
def test_a_copy_whose_text_layer_names_another_shop_is_a_data_duplicate(api, workflows):
    earlier = processed(api, receipt_pdf(), "earlier")
    other_shop = processed(api, receipt_pdf(name="RESTORAN WAN SHENG"), "other-shop")
    copy = processed(
        api, receipt_pdf_whose_font_lies(ANOTHER_SHOP_AND_DAY, rows=("KEDAI", "Date")), "copy"
    )
    assert copy.extracted_data["merchantName"] == "PODRT BLPL GRYL SDN BHD"
    assert copy.extracted_data["date"] == "2018-03-17"
    data = FraudMatch.objects.filter(check_type="data")
    # An honest receipt of another shop at the same till minute is no data duplicate...
    assert not data.filter(submission=other_shop).exists()
    # ...and the copy is one of the earlier receipt its page shows, by what it shows.
    [match] = data.filter(submission=copy)
    assert match.target_submission_id == earlier.pk
    assert match.details["shown"] is True
    assert match.details["merchant"] == "KEDAI BUKU MAJU"
    assert match.details["date"] == "2018-03-14" and match.details["time"] == "10:25"
    # The honest receipts keep one fingerprint each, of what was read.
    assert DataFingerprint.objects.filter(submission=earlier).get().shown is False
    assert DataFingerprint.objects.filter(submission=copy).count() == 2
