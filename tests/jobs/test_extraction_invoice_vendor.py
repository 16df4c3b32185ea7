"""An invoice's vendor: legal forms as printed, letterheads that are only a logo, and
accented letters, from a PDF's text layer and through OCR."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from jobs.extraction import extract_document
from jobs.extraction.ocr import respace
from steve.text import hides_text
from tests.jobs.fixtures_docs import render_png
from tests.jobs.test_extraction import _INVOICE_BODY, _drawn_pdf

# A font that draws a combining accent as its own glyph, so the text layer holds "e" and
# U+0301 apart, as PDFs made by some tools do.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
REVIEW_GATE = 0.8  # the default workflow version's review threshold (80)

_DETAILS = [
    (50, 130, "INVOICE", 16),
    (50, 160, "Invoice No: INV-20417", 10),
    (50, 174, "Invoice Date: 04/03/2026", 10),
    *_INVOICE_BODY,
]


def _letterhead(name: str, size: int = 22) -> bytes:
    return _drawn_pdf(
        [(50, 60, name, size), (50, 86, "12 Harbour Road, Bristol BS1 4DJ", 9), *_DETAILS]
    )


LEGAL_FORMS = [
    "ACME S.A.R.L.",
    "DUPONT SARL",
    "Kraftwerk GmbH",
    "Ferrari S.p.A.",
    "Jansen B.V.",
    "Nowak Sp. z o.o.",
    "Siemens AG",
    "Acme Widgets Ltd.",
    "Initech LLC",
    "Globex Inc.",
]


@pytest.mark.parametrize("name", LEGAL_FORMS)
def test_a_vendors_legal_form_is_kept_as_printed_from_a_text_layer(name: str) -> None:
    # The closing point of "S.A.R.L.", "S.p.A.", "B.V.", "Ltd." was cut off with the
    # line's trailing punctuation: "Ferrari S.p.A", no name as printed.
    _, extraction = extract_document(_letterhead(name), kind="invoice")
    assert extraction.fields["vendorName"] == name


@pytest.mark.parametrize("name", LEGAL_FORMS)
def test_a_vendors_legal_form_is_kept_as_printed_through_ocr(name: str) -> None:
    # OCR put spaces into capitals beside a dotted form ("A CM E S.A.R.L."): the dots'
    # narrow pitch made every gap between capitals look like a space.
    pdf = _letterhead(name)
    document, extraction = extract_document(render_png(pdf, dpi=200), kind="invoice")
    assert not document.pages[0].has_text_layer
    assert extraction.fields["vendorName"] == name


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans is not installed")
def test_a_text_layers_accented_letters_are_read_composed() -> None:
    # "e" + U+0301 came through as two characters: a name that looks the same and
    # compares unequal to the one a person types ("Société"), in a correction or a lookup.
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    pdf.setFont("DejaVuSans", 22)
    pdf.drawString(50, 842 - 60, unicodedata.normalize("NFD", "Société Générale GmbH"))
    for x, y, text, size in _DETAILS:
        pdf.setFont("Helvetica", size)
        pdf.drawString(x, 842 - y, text)
    pdf.showPage()
    pdf.save()
    _, extraction = extract_document(out.getvalue(), kind="invoice")
    assert extraction.fields["vendorName"] == "Société Générale GmbH"  # NFC, as typed
    assert unicodedata.is_normalized("NFC", extraction.pages_text[0])


def _utf16_hex(char: str) -> str:
    return char.encode("utf-16-be").hex().upper()


def _pdf_drawing_as(rows: list[tuple[float, float, str, int]], drawn_as: dict[str, str]) -> bytes:
    """A one-page A4 PDF in Helvetica whose text layer reads each character of ``drawn_as``
    as the text it maps to (its ToUnicode CMap): a character beyond the Basic Multilingual
    Plane is a UTF-16 surrogate pair there, as a font that draws it writes it. ReportLab
    cannot write one (it cuts U+1D400 to U+1D40)."""
    pairs = "\n".join(f"<{ord(c):02X}> <{_utf16_hex(t)}>" for c, t in drawn_as.items())
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <00> <FF> endcodespacerange\n"
        f"{len(drawn_as)} beginbfchar\n{pairs}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    ).encode()
    # The name (the first row) in the font with the map; the rest in plain Helvetica.
    content = b"".join(
        f"BT /F{2 if n == 0 else 1} {size} Tf {x} {842 - y} Td ({text}) Tj ET\n".encode("cp1252")
        for n, (x, y, text, size) in enumerate(rows)
    )
    font = "/Type /Font /Subtype /Type1 /Encoding /WinAnsiEncoding /BaseFont"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        f"<< {font} /Helvetica >>".encode(),
        f"<< {font} /Helvetica-Bold /ToUnicode 7 0 R >>".encode(),
        b"<< /Length %d >>\nstream\n%b\nendstream" % (len(content), content),
        b"<< /Length %d >>\nstream\n%b\nendstream" % (len(cmap), cmap),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# Printed as X, Y, Z; read as a CJK extension B ideograph, an emoji, a math bold capital.
BEYOND_THE_BMP = {"X": "\U00020bb7", "Y": "\U0001f600", "Z": "\U0001d400"}


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("X Foods Ltd", "\U00020bb7 Foods Ltd"),
        ("BurgerYBar Ltd", "Burger\U0001f600Bar Ltd"),
        ("ZCME Widgets GmbH", "\U0001d400CME Widgets GmbH"),
    ],
)
def test_a_character_beyond_the_basic_plane_in_a_text_layer_is_read_whole(
    printed: str, name: str
) -> None:
    """pdfium gives such a character as two UTF-16 halves, each read alone as nothing: it
    was dropped and split its word ("\U0001d400CME" read as "CME", "Burger\U0001f600Bar" as "Burger Bar")."""
    drawn_as = {chr(b): chr(b) for b in range(0x20, 0x7F)} | BEYOND_THE_BMP
    rows = [(50, 60, printed, 22), (50, 86, "12 Harbour Road, Bristol BS1 4DJ", 9), *_DETAILS]
    _, extraction = extract_document(_pdf_drawing_as(rows, drawn_as), kind="invoice")
    assert extraction.pages_text[0].splitlines()[0] == name
    assert extraction.fields["vendorName"] == name


def test_a_text_layer_keeps_a_vendors_accents_at_full_confidence() -> None:
    _, extraction = extract_document(_letterhead("Bäckerei Müller GmbH"), kind="invoice")
    assert extraction.fields["vendorName"] == "Bäckerei Müller GmbH"
    assert extraction.field_confidences["vendorName"] >= 0.95


def test_an_ocr_read_vendor_name_never_claims_to_be_exact_to_the_letter() -> None:
    # The recogniser's alphabet is ASCII: "Bäckerei Müller GmbH" reads "Backerei Muller
    # GmbH", and was given 0.95, the confidence of a name right to the letter.
    pdf = _letterhead("Bäckerei Müller GmbH")
    _, extraction = extract_document(render_png(pdf, dpi=200), kind="invoice")
    # What it makes of "ä" and "ü" varies ("Backerei Muller", "Backerei Mller"); the
    # name is read, but never as exact.
    assert extraction.fields["vendorName"].startswith("Backerei M")
    assert extraction.field_confidences["vendorName"] < 0.95


ADDRESSES = [
    ("12 Harbour Road", "Bristol BS1 4DJ", "United Kingdom"),
    ("500 Main Street, Suite 200", "Austin, TX 78701"),
    ("Hauptstraße 5", "10115 Berlin"),
    ("Stationsweg 19", "3511 ED Utrecht"),
    ("10 rue de la Paix", "75002 Paris", "France"),
    ("Calle Mayor 12", "28013 Madrid"),
    ("Via Roma 1", "20121 Milano"),
    ("Unit 4, Riverside Trading Estate", "Leeds LS1 4AA"),
    ("PO Box 1234", "Wellington 6140"),
]


@pytest.mark.parametrize("address", ADDRESSES, ids=lambda a: a[0])
def test_a_vendor_whose_name_is_only_in_its_logo_is_no_address(address: tuple[str, ...]) -> None:
    # No name is printed over the address (it is in the logo): the address's first or
    # second line ("Bristol BS1 4DJ", "Hauptstraße 5") was the vendor at 0.75, or a
    # table's heading ("Description") below it.
    rows = [(50, 86 + 12 * i, text, 9) for i, text in enumerate(address)]
    _, extraction = extract_document(_drawn_pdf([*rows, *_DETAILS]), kind="invoice")
    vendor = extraction.fields.get("vendorName")
    if vendor is not None:
        assert not any(vendor in line or line in vendor for line in address)
        assert extraction.field_confidences["vendorName"] < REVIEW_GATE


def test_a_logo_only_vendors_address_is_not_its_name_through_ocr() -> None:
    rows = [(50, 86, "Hauptstraße 5", 9), (50, 98, "10115 Berlin", 9)]
    pdf = _drawn_pdf([*rows, *_DETAILS])
    _, extraction = extract_document(render_png(pdf, dpi=200), kind="invoice")
    vendor = extraction.fields.get("vendorName")
    if vendor is not None:
        assert "Haupt" not in vendor and "Berlin" not in vendor
        assert extraction.field_confidences["vendorName"] < REVIEW_GATE


@pytest.mark.parametrize("name", ["Jansen Advies", "2020 Vision Ltd"])
def test_a_printed_name_over_its_address_is_still_the_vendor(name: str) -> None:
    rows = [
        (50, 60, name, 18),
        (50, 86, "Stationsweg 19", 9),
        (50, 98, "3511 ED Utrecht", 9),
    ]
    _, extraction = extract_document(_drawn_pdf([*rows, *_DETAILS]), kind="invoice")
    assert extraction.fields["vendorName"] == name


def _char_boxes(widths: list[float]) -> list[list[list[float]]]:
    """Character boxes side by side, each as wide as given, as the recogniser aligns them."""
    boxes, x = [], 0.0
    for width in widths:
        boxes.append([[x, 0.0], [x + width, 0.0], [x + width, 10.0], [x, 10.0]])
        x += width
    return boxes


def test_respacing_leaves_the_capitals_of_a_proportional_name_beside_its_points_together() -> None:
    # Points are narrow in a proportional font: their pitch took the median, and every
    # gap between capitals was more than 1.45 of it ("A CM E S.A.R.L.").
    text = "ACME S.A.R.L."
    widths = {"M": 17.0, ".": 5.0, " ": 6.0}
    assert respace(text, _char_boxes([widths.get(c, 14.0) for c in text])) == text


def test_respacing_still_puts_back_a_monospaced_lines_dropped_space() -> None:
    # A receipt printer's cells: the space PP-OCR dropped between two words is an empty
    # cell, as wide as a character ("ABCHO" + cell + "TRADING").
    widths = [10.0] * 4 + [20.0, 10.0] + [10.0] * 6
    boxes = _char_boxes(widths)
    boxes[4][1][0] = boxes[4][2][0] = boxes[4][0][0] + 10.0  # "O" one cell wide, then blank
    assert respace("ABCHOTRADING", boxes) == "ABCHO TRADING"


def test_respacing_a_receipts_dotted_line_never_splits_more_than_before() -> None:
    # "LOT P.T. 2811, JALAN ANGSA,": the capitals' pitch alone was the narrower one on
    # this line and split "JALAN" ("JAL AN", the one line of both SROIE sets it changed);
    # the wider of the two pitches is taken, so points can only join capitals.
    text = "LOT P.T. 2811, JALAN"
    wide = {".": 16.0, ",": 16.0, " ": 16.0, "P": 16.0, "T": 16.0}
    widths = [wide.get(c, 10.0) for c in text]
    widths[text.index("JALAN") + 2] = 20.0  # a broad "L", as the recogniser may align it
    assert respace(text, _char_boxes(widths)) == text


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans is not installed")
def test_a_text_layers_invisible_and_bidi_characters_are_not_read_into_the_values() -> None:
    # A zero-width space, a byte-order mark and a right-to-left override in the text layer draw
    # nothing on the page, but were read into the vendor name, the summary, the API and
    # webhooks: a name that compares unequal to the one a reviewer types (who may not
    # type these at all), and an unclosed override reversed the rest of the desk's line
    # ("Invoice from … dated 2026-03-04 for GBP …" drawn backwards).
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    pdf.setFont("DejaVuSans", 22)
    pdf.drawString(50, 842 - 60, "Ac\u200bme Tra\ufeffding \u202eGmbH")
    for x, y, text, size in _DETAILS:
        pdf.setFont("DejaVuSans", size)
        pdf.drawString(x, 842 - y, text.replace("INV-", "INV-\u200b"))
    pdf.showPage()
    pdf.save()
    _, extraction = extract_document(out.getvalue(), kind="invoice")
    assert extraction.fields["vendorName"] == "Acme Trading GmbH"
    assert extraction.fields["invoiceNumber"] == "INV-20417"
    assert not any(hides_text(text, allowed="\n") for text in extraction.pages_text)


def _beside_its_title(name: str, title: str) -> bytes:
    # A letterhead with the document's title close beside it on its baseline, nearer
    # than the gap that makes two columns.
    return _drawn_pdf([(50, 60, name, 24), (400, 60, title, 18), *_DETAILS[1:], *_ADDRESS])


_ADDRESS = [(50, 86, "Industrieweg 12", 9), (50, 98, "70565 Stuttgart", 9)]


def test_a_title_printed_beside_the_letterhead_is_no_part_of_the_vendors_name() -> None:
    # "Müller Maschinenbau GmbH   RECHNUNG" in two sizes was the vendor at 0.95.
    pdf = _beside_its_title("Müller Maschinenbau GmbH", "RECHNUNG")
    _, extraction = extract_document(pdf, kind="invoice")
    assert extraction.fields["vendorName"] == "Müller Maschinenbau GmbH"


def test_a_title_beside_the_letterhead_is_no_part_of_the_vendors_name_through_ocr() -> None:
    pdf = _beside_its_title("Müller Maschinenbau GmbH", "RECHNUNG")
    _, extraction = extract_document(render_png(pdf, dpi=200), kind="invoice")
    assert extraction.fields["vendorName"].endswith("Maschinenbau GmbH")


def test_a_name_that_ends_in_a_title_word_in_its_own_print_is_kept_whole() -> None:
    pdf = _drawn_pdf([(50, 60, "Smart Invoice", 22), *_DETAILS, *_ADDRESS])
    _, extraction = extract_document(pdf, kind="invoice")
    assert extraction.fields["vendorName"] == "Smart Invoice"


TWO_LINE_NAMES = [
    ("ATELIER LEFEBVRE", "SARL"),
    ("Müller Maschinenbau", "GmbH & Co. KG"),
    ("Harbour Marine Supply", "Ltd."),
    ("Bluewater Holdings", "LLC"),
    ("Garcia Hermanos", "S.A."),
    # The forms abroad that header._FORM_ABROAD knows on a name's own line, as below it.
    ("Jansen Transport", "B.V."),
    ("Rossi Costruzioni", "S.r.l."),
    ("Ferrari Ricambi", "S.p.A."),
    ("Nordic Timber", "Oyj"),
    ("Hansen Shipping", "A/S"),
    ("Baker Partners", "LLP"),
    ("Dupont Services", "S.A.S."),
]


@pytest.mark.parametrize(("first", "second"), TWO_LINE_NAMES, ids=lambda v: v)
def test_a_letterheads_legal_form_on_the_line_below_is_part_of_the_vendors_name(
    first: str, second: str
) -> None:
    # "ATELIER LEFEBVRE" / "SARL" in the letterhead was read "ATELIER LEFEBVRE" at 0.67:
    # the legal form alone on the next line was left out of the name.
    rows = [(50, 60, first, 22), (50, 84, second, 22), (50, 104, "12 Harbour Road", 9)]
    _, extraction = extract_document(_drawn_pdf([*rows, *_DETAILS]), kind="invoice")
    assert extraction.fields["vendorName"] == f"{first} {second}"


def test_a_letterheads_line_below_that_is_no_legal_form_stays_out_of_the_name() -> None:
    rows = [(50, 60, "Harbour Marine", 22), (50, 84, "Ship Chandlers", 12)]
    rows.append((50, 104, "12 Harbour Road", 9))
    _, extraction = extract_document(_drawn_pdf([*rows, *_DETAILS]), kind="invoice")
    assert extraction.fields["vendorName"] == "Harbour Marine"


@pytest.mark.parametrize(
    "name",
    ["ATELIER LEFEBVRE SARL", "Garcia Hermanos S.A.", "Siemens AG", "Jansen B.V.", "Maersk A/S"],
)
def test_a_vendor_closed_by_a_legal_form_from_abroad_is_rated_as_a_company(name: str) -> None:
    # "ATELIER LEFEBVRE SARL" was read right but at 0.75, under the review threshold,
    # where "Initech LLC" had 0.95: the legal forms known were English, German and
    # Malaysian ones.
    _, extraction = extract_document(_letterhead(name), kind="invoice")
    assert extraction.fields["vendorName"] == name
    assert extraction.field_confidences["vendorName"] >= 0.95
