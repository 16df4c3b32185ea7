"""The review desk beside a field read from a PDF's text layer that the page was checked
against (jobs.extraction.shown): what the page shows there, or that it could not be read
again to tell."""

import pytest

from jobs.extraction.shown import FAINT, FAINT_PAGE, SMALL, UNCHECKED
from tests.submissions.test_review_accessibility import detail
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db

BOX = {"file": 0, "page": 0, "bbox": [0.7, 0.6, 0.9, 0.63]}


def remark(tree, field: str) -> str:
    row = next(n for n in tree.all("tr") if n.attrs.get("data-field") == field)
    found = [n for n in row.walk() if "shown-otherwise" in n.attrs.get("class", "").split()]
    return found[0].text() if found else ""


def test_a_field_whose_page_shows_other_digits_says_what_it_shows(ui, company):
    waiting = submission_with_file(company, evidence={"totalAmount": [{**BOX, "shown": "1,790"}]})
    assert remark(detail(ui, waiting), "totalAmount") == (
        "The page shows 1,790; the PDF's text says otherwise"
    )


def test_a_field_whose_page_could_not_be_read_again_says_it_is_unchecked(ui, company):
    waiting = submission_with_file(
        company, evidence={"totalAmount": [{**BOX, "unchecked": UNCHECKED}]}
    )
    assert remark(detail(ui, waiting), "totalAmount") == (
        "The page could not be read again here to check the PDF's text."
    )


def test_a_field_drawn_faint_says_so(ui, company):
    waiting = submission_with_file(company, evidence={"totalAmount": [{**BOX, "faint": FAINT}]})
    assert remark(detail(ui, waiting), "totalAmount") == (
        "The PDF's text here is drawn fainter than the page's other text."
    )


def test_a_field_drawn_too_small_to_read_says_so(ui, company):
    waiting = submission_with_file(company, evidence={"totalAmount": [{**BOX, "small": SMALL}]})
    assert remark(detail(ui, waiting), "totalAmount") == (
        "The PDF's text here is drawn too small to read on the page."
    )


def test_a_field_read_on_a_page_too_faint_to_see_says_so(ui, company):
    waiting = submission_with_file(
        company, evidence={"totalAmount": [{**BOX, "faintPage": FAINT_PAGE}]}
    )
    assert remark(detail(ui, waiting), "totalAmount") == (
        "The PDF's text on this page is too faint to see: what was read here is not what a "
        "reviewer sees on the page."
    )


def test_a_field_read_as_its_page_shows_says_nothing(ui, company):
    waiting = submission_with_file(company, evidence={"totalAmount": [BOX]})
    assert remark(detail(ui, waiting), "totalAmount") == ""
