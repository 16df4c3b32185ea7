"""A PDF's text layer checked against what its page shows, where a value matters.

A font's /ToUnicode map says what its glyphs are: one that reads the glyph "1" as "2"
shows a reviewer the receipt's 17.90 while Steve reads 26.80 from its text layer. These
read with the real OCR engine (loaded once, ~2 s): what is tested is what it reads on the
rendered page."""

import io
import logging

import pypdfium2 as pdfium
import pytest
from django.urls import reverse
from PIL import Image

from jobs import pipeline
from jobs.extraction import document, extract_document, get_engine, shown
from jobs.extraction.api import PageText
from jobs.extraction.layout import BBox, Word
from jobs.extraction.shown import FAINT, SHOWN_OTHERWISE_CONFIDENCE, UNCHECKED, check_text_layer
from jobs.models import SessionState, WorkflowSession
from submissions.models import SubmissionStatus
from tests.jobs.fixtures_docs import (
    FAMILIES,
    invoice_pdf,
    receipt_pdf,
    receipt_pdf_in_greys,
    receipt_pdf_set_in,
    receipt_pdf_whose_font_lies,
    receipt_pdf_with_a_speck_of_a_total,
)
from tests.jobs.test_hostile_files import UPRIGHT, pdf_of_text, submit

# Each changed digit keeps cash - change = total in the text layer (30.00 - 3.20 = 26.80,
# as 20.00 - 2.10 = 17.90 on the page): a lie that adds up is read at 0.94 unchecked.
ADDS_UP = {"1": "2", "2": "3", "7": "6", "9": "8"}
PAID_ROWS = ("TOTAL RM", "CASH", "CHANGE")
# An honest receipt's amounts grouped in thousands, as the total above is printed.
THOUSANDS = {"17.90": "1,790.00", "20.00": "1,800.00", "2.10": "10.00"}
# An honest credit note: its items and total printed as credits, its total checked.
CREDIT_NOTE = {
    "12.50": "-12.50",
    "5.40": "-5.40",
    "17.90": "-17.90",
    "20.00": "-17.90",
    "2.10": "0.00",
}


class Unchecked:
    """An engine that reads no line on its own: the text layer goes unchecked, as it
    went before, so what a check changes shows against it."""

    name, upright_confidence = "unchecked", 0.8

    def recognize(self, image: Image.Image) -> list[Word]:
        return []


@pytest.fixture(scope="module")
def engine():
    return get_engine("rapidocr")


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_total_whose_font_reads_other_digits_than_the_page_shows_goes_to_review(engine, rotate):
    data = receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS, rotate=rotate)
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 26.8  # the lie, read from the text layer
    assert unchecked.field_confidences["totalAmount"] >= 0.9

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] < 0.5
    [box] = read.evidence["totalAmount"]
    assert box["shown"] == "17.90"  # where it was read, on the page turned as it shows
    assert read.certainty < 0.5
    assert "totalAmount read 26.80, the page shows '17.90'" in read.summary


def test_a_date_whose_font_reads_other_digits_than_the_page_shows_goes_to_review(engine):
    data = receipt_pdf_whose_font_lies({"4": "7"}, rows=("Date",))
    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["date"] == "2018-03-17"
    assert read.field_confidences["date"] < 0.5
    assert [box["shown"] for box in read.evidence["date"]] == ["14/03/2018"]
    assert read.field_confidences["totalAmount"] == 0.95  # its own digits are the page's


def test_a_total_whose_font_moves_its_point_goes_to_review(engine):
    # The page prints "1,790" (one thousand seven hundred and ninety); the font reads its
    # "," as "7" and its "7" as ".": the text layer says 17.90, the same digits in order.
    data = receipt_pdf_whose_font_lies({",": "7", "7": "."}, prints={"17.90": "1,790"})
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 17.9
    assert unchecked.field_confidences["totalAmount"] >= 0.9

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] < 0.5
    assert [box["shown"] for box in read.evidence["totalAmount"]] == ["1,790"]
    assert "totalAmount read 17.90, the page shows '1,790'" in read.summary


def test_a_credit_whose_font_reads_its_minus_as_a_plus_goes_to_review(engine):
    # The page prints the total as a credit, -17.90; the font reads its "-" as "+": the
    # text layer says a charge of 17.90, the same digits and, unsigned, the same value.
    data = receipt_pdf_whose_font_lies({"-": "+"}, prints={"17.90": "-17.90"})
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 17.9
    assert unchecked.field_confidences["totalAmount"] >= 0.9

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] < 0.5
    assert [box["shown"] for box in read.evidence["totalAmount"]] == ["-17.90"]


# The credit note's amounts printed as credits some other way than with a leading "-".
IN_PARENTHESES = {
    key: f"({value[1:]})" if value.startswith("-") else value for key, value in CREDIT_NOTE.items()
}
SET_APART = {
    key: f"- {value[1:]}" if value.startswith("-") else value for key, value in CREDIT_NOTE.items()
}
AMOUNT_ROWS = ("Notebook", "Blue", *PAID_ROWS)


@pytest.mark.parametrize(
    "data",
    [
        # The font draws the credit's "-" (its "(" and ")"), its text layer reads a space:
        # the words holding the digits said a charge, and their box held no sign.
        pytest.param(
            receipt_pdf_whose_font_lies({"-": " "}, rows=AMOUNT_ROWS, prints=CREDIT_NOTE),
            id="minus-read-as-a-space",
        ),
        pytest.param(
            receipt_pdf_whose_font_lies(
                {"(": " ", ")": " "}, rows=AMOUNT_ROWS, prints=IN_PARENTHESES
            ),
            id="parentheses-read-as-spaces",
        ),
        # An honest font, the "-" a word of its own: the total was read as a charge.
        pytest.param(receipt_pdf_whose_font_lies({}, prints=SET_APART), id="minus-set-apart"),
    ],
)
def test_a_credit_whose_sign_lies_beside_the_digits_read_as_a_charge_goes_to_review(engine, data):
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 17.9  # a charge, as the text layer says
    assert unchecked.field_confidences["totalAmount"] >= 0.9

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    shown = [box.get("shown", "") for box in read.evidence["totalAmount"]]
    assert shown and all("17.90" in text and text != "17.90" for text in shown)


def test_a_charge_whose_text_layer_alone_says_a_credit_goes_to_review_saying_so(engine):
    # The font reads the "`" the page shows before each amount as "-": its text layer
    # says a credit note's -17.90 where the page shows a charge of 17.90.
    prints = {
        key: f"`{value[1:]}" if value.startswith("-") else value
        for key, value in CREDIT_NOTE.items()
    }
    data = receipt_pdf_whose_font_lies({"`": "-"}, rows=AMOUNT_ROWS, prints=prints)
    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == -17.9
    assert read.field_confidences["totalAmount"] <= SHOWN_OTHERWISE_CONFIDENCE
    assert [box.get("shown") for box in read.evidence["totalAmount"]] == ["17.90"]
    assert "totalAmount read -17.90, the page shows '17.90'" in read.summary


# The shop's name row drawn in a font whose text layer reads "KEDAI BUKU MAJU SDN BHD"
# as "PODRT BLPL GRYL SDN BHD": another shop, so an edited copy of an earlier receipt of
# the page's shop is compared by fraud's data check with a name like none of its rows.
ANOTHER_SHOP = {"K": "P", "E": "O", "A": "R", "I": "T", "U": "L", "M": "G", "J": "Y"}


def test_a_shop_name_whose_font_reads_another_shop_than_the_page_shows_goes_to_review(engine):
    data = receipt_pdf_whose_font_lies(ANOTHER_SHOP, rows=("KEDAI",))
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["merchantName"] == "PODRT BLPL GRYL SDN BHD"
    assert unchecked.field_confidences["merchantName"] >= 0.8

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["merchantName"] == "PODRT BLPL GRYL SDN BHD"  # the text layer's
    assert read.field_confidences["merchantName"] == SHOWN_OTHERWISE_CONFIDENCE
    [box] = read.evidence["merchantName"]
    assert box["shown"].replace(" ", "") == "KEDAIBUKUMAJUSDNBHD"
    assert "merchantName read PODRT BLPL GRYL SDN BHD, the page shows 'KEDAI" in read.summary
    assert read.field_confidences["totalAmount"] == unchecked.field_confidences["totalAmount"]


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("KEDAI BUKU MAJU SDN BHD", "KEDAIBUKU MAJU SDN.BHD"),  # spaces and points
        ("Book Ta .K (Taman Daya)", "BOOK TA K(TAMAN DAYA)"),  # case and punctuation
        ("\u041a\u0435dai Runcit", "Kedai Runcit"),  # Cyrillic look-alikes, shown as Latin
        ("UNIHAKKA INTERNATIONAL", "UNIHAKKA INTER NATI0NAL"),  # a letter misread
        ("SDN BHD", "SDN. BHD."),  # a wrapped name's legal form alone
    ],
)
def test_a_name_the_page_shows_alike_is_not_found(said, shown):
    for name in ("merchantName", "vendorName"):
        found, confidences, evidence = checked(name, said, shown)
        assert found == []
        assert confidences[name] == 0.95
        assert "shown" not in evidence[name][0]


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("PODRT BLPL GRYL SDN BHD", "KEDAI BUKU MAJU SDN BHD"),
        ("RESTORAN WAN SHENG", "KEDAI RUNCIT AH SENG"),
        ("SDN BHD", "KEDAI RUNCIT SDN BHD"),  # the shop's words left out of the text
    ],
)
def test_a_name_the_page_shows_as_another_shop_is_found(said, shown):
    for name in ("merchantName", "vendorName"):
        found, confidences, evidence = checked(name, said, shown)
        assert found == [name]
        assert confidences[name] == SHOWN_OTHERWISE_CONFIDENCE
        assert evidence[name][0]["shown"] == shown


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(receipt_pdf(), "receipt", id="receipt"),
        pytest.param(
            receipt_pdf_whose_font_lies({}, prints=CREDIT_NOTE), "receipt", id="credit-note"
        ),
        pytest.param(receipt_pdf_whose_font_lies({}, rotate=90), "receipt", id="shown-sideways"),
        pytest.param(pdf_of_text(UPRIGHT, rotate=270), "receipt", id="rotate-270"),
        pytest.param(invoice_pdf(), "invoice", id="invoice"),
        pytest.param(receipt_pdf_whose_font_lies({}, prints=THOUSANDS), "receipt", id="thousands"),
        pytest.param(receipt_pdf_in_greys(labels=0.6), "receipt", id="grey-labels"),
        # A table's rules 1.5 points beside the amounts, within the box read again: they
        # read as "|", "l" or "1" unless left out.
        *(
            pytest.param(receipt_pdf_set_in(family, ruled=1.5), "receipt", id=f"ruled-{family}")
            for family in FAMILIES
        ),
        *(
            pytest.param(
                receipt_pdf_set_in(family, larger=larger, prints=CREDIT_NOTE, ruled=1.5),
                "receipt",
                id=f"credit-note-ruled-{family}{larger:+d}",
            )
            for family in FAMILIES
            for larger in (-3, 2)
        ),
    ],
)
def test_an_honest_pdf_is_read_as_sure_as_without_the_check(engine, data, kind):
    _, unchecked = extract_document(data, kind=kind, engine=Unchecked())
    _, read = extract_document(data, kind=kind, engine=engine)
    assert read.fields == unchecked.fields
    assert read.field_confidences == unchecked.field_confidences
    assert read.summary == unchecked.summary
    assert not [box for boxes in read.evidence.values() for box in boxes if "shown" in box]


@pytest.mark.django_db
def test_a_receipt_whose_text_layer_lies_about_its_total_is_reviewed(api, ui, workflows):
    # The real engine reads the total's box (FixedEngine reads a whole scan): unchecked,
    # this receipt was approved at 0.94 with the text layer's 26.80.
    data = receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS)
    session_id = submit(api, data, "lying-font", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    submission = session.submission
    assert submission.status == SubmissionStatus.REVIEW
    assert submission.field_confidences["totalAmount"] < 0.5
    assert submission.evidence["totalAmount"][0]["shown"] == "17.90"
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert "The page shows 17.90; the PDF&#x27;s text says otherwise" in page


class Reads:
    """A line reader that reads ``text`` on any box: what OCR would read on the page."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_line(self, image: Image.Image) -> tuple[str, float]:
        return self.text, 0.9


def white(index: int, box: BBox, turn: int, height: int) -> Image.Image:
    return Image.new("RGB", (4 * height, height), "white")


def checked(name: str, said: str, shown: str) -> tuple[list[str], dict, dict]:
    """check_text_layer on a page whose text layer says ``said`` where ``name`` was read,
    and whose page OCR reads as ``shown`` there: the fields found, confidences, boxes."""
    box = (0.5, 0.5, 0.9, 0.52)
    page = PageText(index=0, words=[Word(said, box, 1.0)], text=said, has_text_layer=True)
    confidences = {name: 0.95}
    evidence = {name: [{"page": 0, "bbox": list(box)}]}
    found = check_text_layer(
        {name: said}, confidences, evidence, [page], render=white, reader=Reads(shown)
    )
    return found, confidences, evidence


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("17.90", "1,790"),  # one thousand seven hundred and ninety
        ("1,790.00", "17,900.00"),
        ("17.90", "1790"),  # no point shown: 1790 to the eye
        ("1.790,00", "17.90"),  # other digits, as before
        # The page shows a credit (a refund claimed as an expense): OCR read its sign.
        ("17.90", "-17.90"),
        ("+17.90", "-17.90"),
        ("17.90", "(17.90)"),
        ("17.90", "17.90CR"),
        ("17.90", "17.90-"),
        # The text layer alone says a credit: a mark the page shows read as "-".
        ("-17.90", "17.90"),
    ],
)
def test_a_total_the_page_shows_as_another_amount_is_found(said, shown):
    found, confidences, evidence = checked("totalAmount", said, shown)
    assert found == ["totalAmount"]
    assert confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    assert evidence["totalAmount"][0]["shown"] == shown


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("17.90", "RM17.90"),
        ("17.90", "17,90"),  # the point read as a comma: the same amount
        ("17.90", "17.9O"),
        ("1,790.00", "1,790.00"),
        ("1,790.00", "1.790.00"),  # unread as an amount; its cents are still two digits
        ("1.790,00", "1.790,00"),
        ("-17.90", "-17.90"),
        ("-17.90", "(17.90)"),  # a credit however printed
        ("17.90CR", "-17.90"),
    ],
)
def test_a_total_the_page_shows_as_the_same_amount_is_not_found(said, shown):
    found, confidences, evidence = checked("totalAmount", said, shown)
    assert found == []
    assert confidences["totalAmount"] == 0.95
    assert "shown" not in evidence["totalAmount"][0]


@pytest.mark.parametrize("name", ["date", "invoiceDate"])
def test_a_date_the_page_shows_as_another_day_is_found(name):
    found, _, evidence = checked(name, "1/12/2018", "11/2/2018")  # 1 December, 11 February
    assert found == [name]
    assert evidence[name][0]["shown"] == "11/2/2018"


@pytest.mark.parametrize(
    ("said", "shown"), [("14/03/2018", "14/03/2018"), ("14/03/2018", "14.03.2018")]
)
def test_a_date_the_page_shows_as_the_same_day_is_not_found(said, shown):
    found, _, _ = checked("date", said, shown)
    assert found == []


def test_an_invoice_number_is_compared_by_its_digits():
    assert checked("invoiceNumber", "INV-2024-0042", "INV 2024/0042")[0] == []
    assert checked("invoiceNumber", "INV-2024-0042", "INV-2024-0043")[0] == ["invoiceNumber"]


class Breaks:
    """A line reader that fails on every box, as a crafted page may make OCR fail."""

    def read_line(self, image: Image.Image) -> tuple[str, float]:
        raise RuntimeError("the recogniser failed")


class ReadsNoLine(Unchecked):
    """An engine whose line reader fails: the rest of its reading is Unchecked's."""

    read_line = Breaks.read_line


def test_a_field_whose_box_cannot_be_read_again_is_capped_as_unchecked(caplog):
    box = (0.5, 0.5, 0.9, 0.52)
    page = PageText(index=0, words=[Word("17.90", box, 1.0)], text="17.90", has_text_layer=True)
    confidences = {"totalAmount": 0.95}
    evidence = {"totalAmount": [{"page": 0, "bbox": list(box)}]}
    with caplog.at_level(logging.WARNING, logger="jobs.extraction.shown"):
        found = check_text_layer(
            {"totalAmount": 17.9}, confidences, evidence, [page], render=white, reader=Breaks()
        )
    # A forger able to make the check fail would otherwise pass a lie through unchecked.
    assert found == ["totalAmount"]
    assert confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    assert "shown" not in evidence["totalAmount"][0]
    assert evidence["totalAmount"][0]["unchecked"] == UNCHECKED
    assert "totalAmount" in caplog.text and "the recogniser failed" in caplog.text


def test_a_pdf_whose_boxes_cannot_be_read_again_is_extracted_with_them_in_review():
    data = receipt_pdf()
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    _, read = extract_document(data, kind="receipt", engine=ReadsNoLine())
    assert read.fields == unchecked.fields
    for name in ("totalAmount", "date", "merchantName"):
        assert read.field_confidences[name] == SHOWN_OTHERWISE_CONFIDENCE
        assert [box.get("unchecked") for box in read.evidence[name]] == [UNCHECKED]
    assert read.certainty < 0.5
    assert (
        "could not be read again to check its PDF text: totalAmount, date, merchantName"
        in read.summary
    )


def test_a_pdf_whose_boxes_cannot_be_rendered_again_is_extracted_with_them_in_review(
    engine, monkeypatch
):
    def fails(*args: object) -> Image.Image:
        raise pdfium.PdfiumError("Failed to render page.")

    monkeypatch.setattr(document, "render_box", fails)
    _, read = extract_document(receipt_pdf(), kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == 17.9
    assert read.field_confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    assert [box.get("unchecked") for box in read.evidence["totalAmount"]] == [UNCHECKED]


def test_a_total_in_faint_text_beside_a_printed_image_of_another_goes_to_review(engine):
    # The text layer's 26.80 is #C8C8C8 on white, read again by OCR as 26.80; the 17.90
    # the eye reads beside it is an image: the check read the page as it says.
    data = receipt_pdf_in_greys(total=200 / 255, printed_total="17.90")
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 26.8
    assert unchecked.field_confidences["totalAmount"] >= 0.85

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    [box] = read.evidence["totalAmount"]
    assert box["faint"] == FAINT and "shown" not in box
    assert "drawn fainter than the page's other text: totalAmount" in read.summary
    assert read.field_confidences["date"] == unchecked.field_confidences["date"]


@pytest.mark.parametrize(
    "data",
    [
        # Helvetica-Bold at 3 points: as tall as the ink check lets text be and show.
        pytest.param(receipt_pdf_with_a_speck_of_a_total(size=3), id="3-point-print"),
        # 4 points among 8- to 10-point print: 4 pixels high on the review page.
        pytest.param(receipt_pdf_with_a_speck_of_a_total(size=4), id="4-point-print"),
        # A 10-point Type3 font drawing its digits a third as large, in boxes it declares
        # that small or as tall as its size: neither the font's size nor the box tell.
        pytest.param(
            receipt_pdf_with_a_speck_of_a_total(drawn=0.3, declared=0.3), id="type3-speck"
        ),
        pytest.param(
            receipt_pdf_with_a_speck_of_a_total(drawn=0.3), id="type3-speck-in-a-tall-box"
        ),
    ],
)
def test_a_total_drawn_too_small_to_read_beside_an_image_of_another_goes_to_review(engine, data):
    # The reviewer reads the image's "TOTAL RM 17.90"; the text layer's 26.80 is a speck
    # left of it, which the box read again magnifies to 32 pixels high and OCR reads as
    # the text layer says: it went straight through at 0.899.
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 26.8
    assert unchecked.field_confidences["totalAmount"] >= 0.85

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == 26.8
    assert read.field_confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    boxes = read.evidence["totalAmount"]
    assert boxes and all(box.get("small") == shown.SMALL for box in boxes)
    assert "drawn too small to read on the page: totalAmount" in read.summary
    assert read.field_confidences["date"] == unchecked.field_confidences["date"]


def faint(ink: float, page_ink: float) -> list[str]:
    """check_text_layer's finding on a total drawn with ``ink`` on a page of other
    words drawn with ``page_ink`` (document._Ink.level), read again as it says."""
    box = (0.5, 0.5, 0.9, 0.52)
    words = [Word("17.90", box, 1.0, ink=ink)] + [
        Word(text, (0.1, top, 0.3, top + 0.02), 1.0, ink=page_ink)
        for top, text in ((0.1, "KEDAI"), (0.2, "CASH"), (0.3, "20.00"))
    ]
    page = PageText(index=0, words=words, text="", has_text_layer=True)
    evidence = {"totalAmount": [{"page": 0, "bbox": list(box)}]}
    return check_text_layer(
        {"totalAmount": 17.9},
        {"totalAmount": 0.95},
        evidence,
        [page],
        render=white,
        reader=Reads("17.90"),
    )


def test_a_total_markedly_fainter_than_its_page_or_light_on_its_own_is_found():
    assert faint(165, 765) == ["totalAmount"]  # #C8C8C8 on a page printed black
    assert faint(165, 165) == ["totalAmount"]  # the whole text layer light: a page of it
    assert faint(250, 700) == ["totalAmount"]


def test_a_total_as_dark_as_its_page_or_plainly_grey_is_not_found():
    assert faint(765, 765) == []
    assert faint(381, 765) == []  # #808080: plainly read
    assert faint(765, 300) == []  # grey labels, a black total
    assert faint(300, 300) == []  # a receipt printed grey throughout


def pdf_of_pages(*files: bytes) -> bytes:
    """One PDF of the pages of ``files``, in order."""
    whole = pdfium.PdfDocument.new()
    for data in files:
        whole.import_pages(pdfium.PdfDocument(data))
    out = io.BytesIO()
    whole.save(out)
    return out.getvalue()


def test_a_total_whose_font_lies_on_a_later_page_shown_sideways_goes_to_review(engine):
    # Its boxes are read again on the page they lie on, turned as it shows: a first page
    # holding no total, the lie on the second, /Rotate 90.
    data = pdf_of_pages(
        receipt_pdf_whose_font_lies({}, prints={"17.90": ""}),
        receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS, rotate=90),
    )
    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == 26.8  # the text layer's
    assert read.field_confidences["totalAmount"] == SHOWN_OTHERWISE_CONFIDENCE
    assert [(box["page"], box.get("shown")) for box in read.evidence["totalAmount"]] == [
        (1, "17.90")
    ]


def name_in_colour(ink: float, page_ink: float) -> list[str]:
    """check_text_layer's finding on a shop name drawn with ``ink`` (a letterhead's
    colour) on a page whose other words are drawn with ``page_ink``, read again as it says."""
    box = (0.2, 0.05, 0.8, 0.08)
    words = [Word("KEDAI", (0.2, 0.05, 0.45, 0.08), 1.0, ink=ink)] + [
        Word("BUKU", (0.5, 0.05, 0.8, 0.08), 1.0, ink=ink)
    ]
    words += [
        Word(text, (0.1, top, 0.3, top + 0.02), 1.0, ink=page_ink)
        for top, text in ((0.3, "TOTAL"), (0.4, "17.90"), (0.5, "20.00"))
    ]
    page = PageText(index=0, words=words, text="", has_text_layer=True)
    evidence = {"merchantName": [{"page": 0, "bbox": list(box)}]}
    return check_text_layer(
        {"merchantName": "KEDAI BUKU"},
        {"merchantName": 0.9},
        evidence,
        [page],
        render=white,
        reader=Reads("KEDAI BUKU"),
    )


def test_a_shop_name_in_a_light_letterhead_colour_the_page_shows_is_not_found():
    """A letterhead is often printed in its brand's colour, lighter than the amounts: sky
    blue (#87CEEB, 189), light green (#90EE90, 239), pink (#FFB6C1, 135) beside black
    print. Print that light is seen (document.SEEN_INK_LEVELS: lighter is not read from the
    text layer at all), and a name the page shows alike is no finding."""
    for ink in (189, 239, 135):
        assert name_in_colour(ink, 765) == []


def test_a_shop_name_in_small_mixed_case_the_page_shows_is_not_too_small(engine):
    """A name's lower-case letters are half as tall as digits: measured against the page's
    numbers (SMALL_SHARE), "Kedai Buku Maju Sdn Bhd" at 6 points beside 9- and 10-point
    amounts was found too small and sent to review, the same name in capitals was not."""
    for name in ("Kedai Buku Maju Sdn Bhd", "KEDAI BUKU MAJU SDN BHD"):
        _, read = extract_document(receipt_pdf(name, name_size=6), kind="receipt", engine=engine)
        assert read.fields["merchantName"].upper() == "KEDAI BUKU MAJU SDN BHD"
        assert not any("small" in box for box in read.evidence["merchantName"]), name
        assert read.field_confidences["merchantName"] > SHOWN_OTHERWISE_CONFIDENCE
