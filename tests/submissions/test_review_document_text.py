"""The review page's "Document text": the text Steve read (Submission.pages_text), for a
reviewer who cannot see the document's image, with each field's evidence line findable."""

import pytest
from django.urls import reverse

from submissions.views import document_text
from tests.submissions.test_review_accessibility import Node, Tree, detail, page
from tests.submissions.test_review_support import pdf_bytes, stored_file, submission_with_file

pytestmark = pytest.mark.django_db

RECEIPT = "KEDAI BUKU MAJU\nDate: 14/03/2018\nNotebook 12.50\nTOTAL RM 17.90"


def text_section(tree: Tree) -> Node:
    (section,) = [n for n in tree.root.walk() if "data-doc-text" in n.attrs]
    return section


def lines_of(tree: Tree, anchor: str) -> list[str]:
    (ol,) = [n for n in tree.all("ol") if n.attrs.get("aria-labelledby") == anchor]
    return [li.text() for li in ol.children if isinstance(li, Node)]


def read_at_links(tree: Tree, field: str) -> list[Node]:
    row = next(n for n in tree.all("tr") if n.attrs.get("data-field") == field)
    return [a for a in row.walk() if a.tag == "a" and "data-read-at" in a.attrs]


def test_the_text_read_is_on_the_page_in_reading_order_under_a_labelled_collapsed_section(
    ui, company
):
    waiting = submission_with_file(company, pages_text=[RECEIPT])
    tree = detail(ui, waiting)
    section = text_section(tree)
    assert tree.by_id(section.attrs["aria-labelledby"]).text() == "Document text"
    details = next(n for n in section.walk() if n.tag == "details")
    assert "open" not in details.attrs  # long documents stay out of the way until asked for
    assert tree.by_id("text-0-0").text() == "Page 1"
    assert lines_of(tree, "text-0-0") == RECEIPT.splitlines()


def test_text_read_from_the_document_is_escaped_never_markup_or_a_template(ui, company):
    """The text is whatever was printed on the upload: an attacker's to choose."""
    hostile = "<script>alert(1)</script>\n{{ submission.pk }} {% csrf_token %}\n<b>TOTAL</b> 9.99"
    waiting = submission_with_file(company, pages_text=[hostile])
    response = ui.get(reverse("review:detail", args=[waiting.pk]))
    html = response.content.decode()
    assert "<script>alert(1)" not in html and "<b>TOTAL" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;TOTAL&lt;/b&gt; 9.99" in html
    assert lines_of(page(response), "text-0-0") == hostile.splitlines()  # as printed


def test_a_field_links_to_the_line_it_was_read_on_and_the_line_names_the_field(ui, company):
    waiting = submission_with_file(
        company,
        pages_text=[RECEIPT],
        evidence={
            "merchantName": [{"file": 0, "page": 0, "bbox": [0.3, 0.05, 0.8, 0.08], "line": 0}],
            "totalAmount": [{"file": 0, "page": 0, "bbox": [0.7, 0.6, 0.9, 0.63], "line": 3}],
        },
    )
    tree = detail(ui, waiting)
    (total,) = read_at_links(tree, "totalAmount")
    assert total.attrs["href"] == "#text-0-0-3"
    assert total.text() == "Total amount read on page 1, line 4"
    line = tree.by_id("text-0-0-3")
    assert line.text() == "TOTAL RM 17.90 Total amount"
    assert tree.by_id("text-0-0-0").text() == "KEDAI BUKU MAJU Merchant name"
    # The line is where the link's click puts focus: it must take focus, but not Tab's.
    assert line.attrs["tabindex"] == "-1"
    # The refresh of the fields (after a save) keeps the links.
    side = ui.get(reverse("review:detail", args=[waiting.pk]) + "?part=side")
    assert read_at_links(page(side), "totalAmount")[0].attrs["href"] == "#text-0-0-3"


def test_a_field_read_before_lines_were_recorded_links_to_its_page(ui, company):
    waiting = submission_with_file(
        company,
        pages_text=[RECEIPT],
        evidence={"totalAmount": [{"file": 0, "page": 0, "bbox": [0.7, 0.6, 0.9, 0.63]}]},
    )
    (total,) = read_at_links(detail(ui, waiting), "totalAmount")
    assert total.attrs["href"] == "#text-0-0"
    assert total.text() == "Total amount read on page 1"


def test_a_long_document_draws_the_first_lines_and_says_how_many_more(ui, company, monkeypatch):
    monkeypatch.setattr(document_text, "MAX_TEXT_LINES", 5)
    pages = ["\n".join(f"p{p} line {n}" for n in range(4)) for p in range(3)]
    waiting = submission_with_file(
        company,
        pages_text=pages,
        evidence={"totalAmount": [{"file": 0, "page": 2, "bbox": [0, 0, 1, 1], "line": 3}]},
    )
    tree = detail(ui, waiting)
    assert lines_of(tree, "text-0-0") == [f"p0 line {n}" for n in range(4)]
    assert lines_of(tree, "text-0-1") == ["p1 line 0"]
    assert not [n for n in tree.all("ol") if n.attrs.get("aria-labelledby") == "text-0-2"]
    (more,) = [n for n in text_section(tree).walk() if "data-text-more" in n.attrs]
    assert more.text() == "Showing the first 5 of 12 lines; 7 more lines are in the original file."
    # A field read on a line not drawn says so, and goes to its page.
    (total,) = read_at_links(tree, "totalAmount")
    assert total.attrs["href"] == "#text-0-2"
    assert total.text() == "Total amount read on page 3, line 4 (not shown)"


def test_the_pages_of_several_files_are_told_apart_by_their_page_counts(ui, company):
    waiting = submission_with_file(
        company,
        pages_text=["first file", "second file p1", "second file p2"],
        evidence={"totalAmount": [{"file": 1, "page": 1, "bbox": [0, 0, 1, 1], "line": 0}]},
    )
    stored_file(waiting, index=1, content=pdf_bytes(2))
    waiting.files.filter(file_index=0).update(page_count=1)
    waiting.files.filter(file_index=1).update(page_count=2)
    tree = detail(ui, waiting)
    assert tree.by_id("text-1-1").text() == "Receipt 2, page 2"
    assert lines_of(tree, "text-1-1") == ["second file p2 Total amount"]
    (total,) = read_at_links(tree, "totalAmount")
    assert total.attrs["href"] == "#text-1-1-0"
    assert total.text() == "Total amount read on receipt 2, page 2, line 1"


def test_pages_whose_file_is_unknown_are_only_numbered_never_given_to_the_wrong_file(ui, company):
    """Page counts that do not add up to the pages stored (a submission read before they
    were kept): the text is still offered, page by page, without naming a file."""
    waiting = submission_with_file(company, pages_text=["one", "two", "three"])
    stored_file(waiting, index=1, content=pdf_bytes(2))
    tree = detail(ui, waiting)
    assert [tree.by_id(f"text-x-{n}").text() for n in range(3)] == ["Page 1", "Page 2", "Page 3"]
    assert lines_of(tree, "text-x-2") == ["three"]


def test_a_submission_without_stored_text_has_no_document_text_section(ui, company):
    tree = detail(ui, submission_with_file(company))
    assert not [n for n in tree.root.walk() if "data-doc-text" in n.attrs]


def test_a_line_item_read_on_a_line_names_its_row(ui, company):
    waiting = submission_with_file(
        company,
        pages_text=[RECEIPT],
        extracted_data={"lineItems": [{"description": "Notebook", "quantity": 1, "amount": 12.5}]},
        evidence={"lineItems": [{"page": 0, "bbox": [0.1, 0.4, 0.9, 0.43], "item": 0, "line": 2}]},
    )
    assert detail(ui, waiting).by_id("text-0-0-2").text() == "Notebook 12.50 Line item 1"
