"""Each evidence box names the line of its page's text it was read on (``"line"``), for the
review page's "Document text", which links a field to that line."""

from jobs.extraction.api import PageText, parse_pages
from jobs.extraction.document import words_to_text
from jobs.extraction.layout import Word

# Two pages of a till receipt, as OCR boxes them; the second page carries the total.
FIRST = [
    ("KEDAI", 0.30, 0.05, 0.50, 0.08),
    ("BUKU", 0.52, 0.05, 0.66, 0.08),
    ("MAJU", 0.68, 0.05, 0.80, 0.08),
    ("Date:", 0.10, 0.20, 0.25, 0.23),
    ("14/03/2018", 0.27, 0.20, 0.50, 0.23),
    ("Notebook", 0.10, 0.40, 0.35, 0.43),
    ("12.50", 0.75, 0.40, 0.90, 0.43),
]
SECOND = [
    ("Pen", 0.10, 0.10, 0.25, 0.13),
    ("5.40", 0.75, 0.10, 0.90, 0.13),
    ("TOTAL", 0.10, 0.60, 0.30, 0.63),
    ("RM", 0.32, 0.60, 0.40, 0.63),
    ("17.90", 0.75, 0.60, 0.90, 0.63),
]


def page(index: int, boxes: list[tuple[str, float, float, float, float]]) -> PageText:
    words = [Word(text=t, bbox=(x0, y0, x1, y1), confidence=0.97) for t, x0, y0, x1, y1 in boxes]
    return PageText(index=index, words=words, text=words_to_text(words))


def line_read(extraction, box: dict) -> str:
    return extraction.pages_text[box["page"]].split("\n")[box["line"]]


def test_every_evidence_box_names_the_line_of_its_page_text_it_was_read_on() -> None:
    extraction = parse_pages([page(0, FIRST), page(1, SECOND)], kind="receipt")
    assert extraction.fields["totalAmount"] == 17.9
    (total,) = extraction.evidence["totalAmount"]
    assert (total["page"], line_read(extraction, total)) == (1, "TOTAL RM 17.90")
    (date,) = extraction.evidence["date"]
    assert line_read(extraction, date) == "Date: 14/03/2018"
    (name,) = extraction.evidence["merchantName"]
    assert line_read(extraction, name) == "KEDAI BUKU MAJU"
    boxes = [box for boxes in extraction.evidence.values() for box in boxes]
    assert boxes and all(isinstance(box["line"], int) for box in boxes)
