"""Hashing, text similarity, normalisation and tampering signals, without the database."""

import datetime as dt
import io
from decimal import Decimal

import numpy as np
import pytest
from PIL import Image, ImageFile

from fraud import hashing, normalise, tampering, textsim
from fraud.index import HammingIndex, hash_to_words, hashes_to_words
from fraud.policy import FraudPolicy, combine, text_score
from tests.fraud.helpers import recaptured, receipt, receipt_bytes, sroie_available
from tests.jobs.fixtures_docs import _png_chunk

needs_sroie = pytest.mark.skipif(not sroie_available(), reason="sroie-dev not present")
THRESHOLD = 31


def test_hamming_counts_bits():
    a = bytes(32)
    b = bytes([0b1010_0000]) + bytes(30) + bytes([1])
    assert hashing.hamming(a, b) == 3
    with pytest.raises(ValueError):
        hashing.hamming(a, b[:4])


def test_page_hashes_round_trip_json():
    hashes = hashing.page_hashes(receipt(0)) if sroie_available() else None
    if hashes is None:
        pytest.skip("sroie-dev not present")
    assert hashing.PageHashes.from_json(hashes.to_json()) == hashes


@needs_sroie
@pytest.mark.parametrize("transform", ["rotate_3deg", "jpeg_q40", "scale_50pct", "rephotograph"])
def test_recaptured_receipt_stays_within_threshold(transform):
    original = hashing.page_hashes(receipt(3))
    copy = hashing.page_hashes(recaptured(3, transform, seed=1))
    assert hashing.min_distance(original, copy) <= THRESHOLD


@needs_sroie
@pytest.mark.parametrize("transform", ["rotate_3deg", "rephotograph", "combined"])
def test_recapture_as_the_pipeline_hands_it_over_stays_close(transform):
    # After OCR the page is deskewed, with white corners around a photo's dark desk.
    from jobs.extraction.ocr import deskew

    original = hashing.page_hashes(deskew(receipt(3).convert("RGB")))
    copy = hashing.page_hashes(deskew(recaptured(3, transform, seed=1).convert("RGB")))
    assert hashing.min_distance(original, copy) <= THRESHOLD


def test_page_hashes_have_every_view_and_distance_is_the_closest():
    page = _synthetic_receipt()
    hashes = hashing.page_hashes(page)
    assert tuple(hashes.views) == hashing.IMAGE_VIEWS  # no words: no text view
    assert all(len(d) == hashing.HASH_BYTES for d in hashes.views.values())
    far = {name: bytes(~np.frombuffer(d, np.uint8)) for name, d in hashes.views.items()}
    one_close = hashing.PageHashes(views={**far, "print": hashes.views["print"]}, quality=100)
    assert hashing.min_distance(hashes, one_close) == 0
    assert hashing.min_distance(hashes, hashing.PageHashes(views={}, quality=0)) == 256


def _synthetic_receipt(width: int = 300, height: int = 700) -> Image.Image:
    import cv2

    page = np.full((height, width), 245, np.uint8)
    rng = np.random.default_rng(3)
    for row in range(40, height - 40, 22):
        start = int(rng.integers(20, 60))
        for word in range(int(rng.integers(2, 6))):
            x = start + word * 55
            cv2.rectangle(page, (x, row), (x + int(rng.integers(15, 45)), row + 9), 40, 2)
    return Image.fromarray(page).convert("RGB")


def test_paper_is_cut_out_of_a_desk_even_with_white_fill_around():
    paper = np.asarray(_synthetic_receipt().convert("L"))
    frame = np.full((900, 600), 255, np.uint8)  # white fill of an earlier rotation
    frame[60:840, 60:540] = 70  # the desk
    frame[100:800, 150:450] = paper
    cut, _ = hashing.cut_paper(frame)
    assert abs(cut.shape[0] - 700) <= 12 and abs(cut.shape[1] - 300) <= 12
    assert cut.min() < 100 and np.median(cut) > 200  # print kept, desk gone


def test_a_shadow_across_the_paper_does_not_cut_it_short():
    paper = np.asarray(_synthetic_receipt().convert("L"))
    frame = np.full((900, 600), 70, np.uint8)  # the desk
    frame[100:800, 150:450] = paper
    # A soft-edged shadow over the lower part of the photo, paper and desk alike: the
    # shaded paper is as dark as the lit desk, so brightness alone stops at the shadow.
    shade = np.ones(900)
    shade[480:520] = np.linspace(1.0, 0.35, 40)
    shade[520:] = 0.35
    frame = (frame * shade[:, None]).astype(np.uint8)
    cut, _ = hashing.cut_paper(frame)
    assert abs(cut.shape[0] - 700) <= 12 and abs(cut.shape[1] - 300) <= 12


def test_print_box_ignores_edges_ticks_and_specks():
    page = np.asarray(_synthetic_receipt().convert("L")).copy()
    box = hashing.print_box(page)
    assert box is not None
    noisy = page.copy()
    noisy[100:600, 4:6] = 30  # a paper edge near the border
    noisy[300:318, 285:287] = 30  # a pen tick in the margin
    noisy[650, 150] = 0  # a speck
    assert hashing.print_box(noisy) == box


def _faint_receipt_with_pen_mark() -> np.ndarray:
    import cv2

    page = np.full((700, 300), 255, np.uint8)
    rng = np.random.default_rng(3)
    for row in range(80, 660, 22):  # faint thermal print
        start = int(rng.integers(20, 60))
        for word in range(int(rng.integers(2, 6))):
            x = start + word * 55
            cv2.rectangle(page, (x, row), (x + int(rng.integers(15, 45)), row + 9), 190, 2)
    cv2.putText(page, "4180303", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 3)  # pen
    return page


def test_dark_view_keeps_faded_print_that_a_pen_mark_hides_from_otsu():
    page = _faint_receipt_with_pen_mark()
    faded = np.clip(page.astype(np.float32) * 1.2, 0, 255).astype(np.uint8)
    # Otsu now separates only the pen mark from everything else: the ink box is lost.
    assert hashing.ink_box(page, hashing._otsu_level(page)) is not None
    assert hashing.ink_box(faded, hashing._otsu_level(faded)) is None
    # The darkest pixels are the same pixels in both.
    box = hashing.ink_box(page, hashing.dark_level(page))
    assert box is not None and hashing.ink_box(faded, hashing.dark_level(faded)) == box


@needs_sroie
def test_a_faded_recapture_with_pen_marks_stays_close():
    # Receipt 4 carries a handwritten total and a printed name in black over faint print.
    from jobs.extraction.ocr import deskew

    # The dark view is measured, not computed by default (hashing.MEASURED_VIEWS).
    views = (*hashing.IMAGE_VIEWS, "dark")
    original = hashing.page_hashes(deskew(receipt(4).convert("RGB")), views=views)
    copy = hashing.page_hashes(
        deskew(recaptured(4, "combined", seed=1).convert("RGB")), views=views
    )
    assert hashing.hamming(original.views["dark"], copy.views["dark"]) <= THRESHOLD


class _Word:
    def __init__(self, text: str, bbox: tuple[float, float, float, float], confidence: float):
        self.text, self.bbox, self.confidence = text, bbox, confidence


def test_text_box_is_the_confident_words_less_outliers():
    rows = [_Word("TOTAL", (0.2, 0.1 + i * 0.02, 0.8, 0.11 + i * 0.02), 0.95) for i in range(40)]
    box = hashing.text_box(rows)
    # The outermost word per side is always trimmed: here the first and last rows.
    assert box == (0.2, rows[1].bbox[1], 0.8, rows[-2].bbox[3])
    # A pen note far out in the margin is trimmed; doubtful words and one-letter reads
    # never count; too few words say nothing.
    noted = [*rows, _Word("tan woon", (0.0, 0.0, 0.3, 0.03), 0.9)]
    assert hashing.text_box(noted) == (0.2, rows[0].bbox[1], 0.8, rows[-2].bbox[3])
    doubtful = [*rows, _Word("~~~~", (0.0, 0.9, 1.0, 1.0), 0.4), _Word("l", (0.95, 0.95, 1, 1), 1)]
    assert hashing.text_box(doubtful) == box
    assert hashing.text_box(rows[:4]) is None
    off_page = [_Word("TOTAL", (-0.5, 0.1 + i * 0.05, 1.7, 0.12 + i * 0.05), 0.9) for i in range(9)]
    assert hashing.text_box(off_page) == pytest.approx((0.0, 0.15, 1.0, 0.47))


def test_words_add_the_text_view():
    page = _synthetic_receipt()
    words = [_Word("ITEM", (0.1, 0.06 + i * 0.03, 0.9, 0.08 + i * 0.03), 0.9) for i in range(25)]
    hashes = hashing.page_hashes(page, words)
    assert tuple(hashes.views) == hashing.VIEWS
    view = hashing.text_view(hashing.page_gray(page), hashing.text_box(words))
    assert hashes.views["text"] == hashing.pdq(view)[0]


@needs_sroie
def test_a_rotated_copy_is_found_by_the_box_of_its_words():
    # Receipt 68 turned by 3 degrees: the fill wedges and the scan's edge move every
    # image-found box, but OCR reads the same words in the same place.
    from jobs.extraction import load_document, read_text
    from tests.fraud.helpers import TRANSFORMS

    def hashes(data: bytes) -> hashing.PageHashes:
        document = load_document(data)
        read_text(document)
        return hashing.page_hashes(document.pages[0].image, document.pages[0].words)

    original = hashes(receipt_bytes(68))
    copy = hashes(TRANSFORMS["rotate_3deg"](receipt(68), np.random.default_rng(1)))
    image_only = min(hashing.hamming(original.views[v], copy.views[v]) for v in hashing.IMAGE_VIEWS)
    assert image_only > THRESHOLD
    assert hashing.hamming(original.views["text"], copy.views["text"]) <= 16


@needs_sroie
def test_receipts_of_different_merchants_are_far_apart():
    a, b = hashing.page_hashes(receipt(0)), hashing.page_hashes(receipt(5))
    assert hashing.min_distance(a, b) > 2 * THRESHOLD


def test_blank_page_has_low_quality():
    blank = Image.new("RGB", (400, 900), "white")
    assert hashing.page_hashes(blank).quality < 10


def test_index_is_exact_against_brute_force():
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 256, size=(5000, 32), dtype=np.uint8)
    query = stored[1234].copy()
    # Plant neighbours at known distances by flipping bits of the query.
    planted = {}
    for offset, flips in enumerate([0, 5, 20, 31, 32, 60]):
        near = query.copy()
        bits = np.unpackbits(near)
        bits[rng.choice(256, flips, replace=False)] ^= 1
        stored[100 + offset] = np.packbits(bits)
        planted[100 + offset] = flips
    index = HammingIndex()
    digests = [row.tobytes() for row in stored]
    index.add(np.arange(len(stored)), hashes_to_words(digests))
    for limit in (0, 31, 64, 128):
        found = dict(index.search(query.tobytes(), limit))
        brute = {
            i: hashing.hamming(d, query.tobytes())
            for i, d in enumerate(digests)
            if hashing.hamming(d, query.tobytes()) <= limit
        }
        assert found == brute
    hits = dict(index.search(query.tobytes(), 31))
    assert {k: v for k, v in planted.items() if v <= 31}.items() <= hits.items()


def test_index_grows_and_sees_new_hashes_at_once():
    index = HammingIndex()
    rng = np.random.default_rng(1)
    for start in range(0, 3000, 700):
        rows = rng.integers(0, 256, size=(700, 32), dtype=np.uint8)
        index.add(np.arange(start, start + 700), hashes_to_words([r.tobytes() for r in rows]))
        assert index.search(rows[-1].tobytes(), 0) == [(start + 699, 0)]
    assert index.size == 3500 and index.memory_bytes > 0
    assert hash_to_words(bytes(32)).tolist() == [0, 0, 0, 0]


RECEIPT_TEXT = """UNIHAKKA INTERNATIONAL SDN BHD 12 Mar 2018 18:19 Invoice OR18031202170432
SR 100100000035 1 Meat + 3 Vege $7.10 SR 100100000015 Vegetable $1.10 Total Amount $8.20
GST @6% $0.46 Nett Total $8.20 CASH $8.20 Change $0.00 GST REG 000656195584
BAR WANG RICE PERMAS JAYA Thank You & Come Again"""
OTHER_DAY = """UNIHAKKA INTERNATIONAL SDN BHD 19 Mar 2018 12:02 Invoice OR18031902170871
SR 100100000068 3 Vege $5.60 SR 100100000015 Chicken Rice $9.20 Total Amount $14.80
GST @6% $0.84 Nett Total $14.80 CASH $20.00 Change $5.20 GST REG 000656195584
BAR WANG RICE PERMAS JAYA Thank You & Come Again"""


def test_text_reprint_is_similar_and_other_receipt_is_not():
    # OCR of a re-capture: words glued, a letter misread, lines in another order.
    reprint = RECEIPT_TEXT.replace("Vegetable", "Vegetab1e").replace("Total Amount", "TotalAmount")
    lines = reprint.splitlines()
    reprint = "\n".join([lines[1], lines[0], *lines[2:]])
    a, b, c = (textsim.shingles(t) for t in (RECEIPT_TEXT, reprint, OTHER_DAY))
    assert textsim.similarity(a, b) > 0.9  # only "Vegetab1e" gained a digit
    # Same shop, same header numbers, other day, time, invoice and amounts.
    assert textsim.similarity(a, c) < 0.5
    sig_a, sig_b = textsim.minhash(a), textsim.minhash(b)
    assert set(textsim.band_keys(sig_a)) & set(textsim.band_keys(sig_b))
    assert textsim.minhash(set()) is None
    assert np.array_equal(textsim.from_bytes(textsim.to_bytes(sig_a)), sig_a)
    assert textsim.similarity(a, textsim.from_bytes(textsim.to_bytes(a))) == 1.0


def test_text_shingles_are_digits_per_line():
    # Separators drop out ("12:49:00" and "1249:00" agree); shingles never cross lines.
    assert textsim.shingles("Time 12:49:00") == textsim.shingles("Tirne:1249:00")
    assert textsim.shingles("12\n34") == textsim.shingles("34\n12")
    assert textsim.shingles("1234") != textsim.shingles("12\n34")
    assert len(textsim.shingles("Invoice 88123")) == 2
    assert textsim.shingles("no numbers here") == set()
    # A misread digit costs only the shingles around it.
    a, b = (
        textsim.shingles("Invoice OR18031202170432"),
        textsim.shingles("Invoice OR18031202178432"),
    )
    assert len(a & b) == len(a) - 4


def test_text_short_lines_are_tokens():
    assert len(textsim.shingles("Qty 2\nTable 12")) == 1  # "2" is too short, "12" a token
    assert textsim.shingles("Table 12") != textsim.shingles("Table 21")


def test_normalise_fields():
    assert normalise.merchant("Book Ta .K (Taman Daya) Sdn. Bhd.") == "BOOK TA K TAMAN DAYA"
    assert normalise.merchant("99 SPEED MART S/B") == normalise.merchant("99 speed mart")
    assert normalise.amount("RM 1,234.50") == Decimal("1234.50")
    assert normalise.amount("9,00") == Decimal("9.00")
    assert normalise.amount(12.5) == Decimal("12.50")
    assert normalise.amount("n/a") is None
    # Beyond the digits a Decimal of two places holds: no amount, not an error.
    assert normalise.amount("1" * 40 + ".00") is None
    assert normalise.amount(1e30) is None
    assert normalise.amount("1" * 26 + ".00") == Decimal("1" * 26 + ".00")
    assert normalise.date("25/12/2018") == dt.date(2018, 12, 25)
    assert normalise.date("19 MAR 2018") == dt.date(2018, 3, 19)
    assert normalise.date("19-09-17") == dt.date(2017, 9, 19)
    assert normalise.date("2018-03-19") == dt.date(2018, 3, 19)
    assert normalise.date("31/02/2018") is None


def test_a_word_of_look_alike_letters_is_read_as_the_latin_word_it_shows():
    assert normalise.merchant("\u0422\u0415\u0405\u0421\u041e Express") == "TESCO EXPRESS"
    assert normalise.merchant("\u039a\u0435dai Runcit") == "KEDAI RUNCIT"
    # A word with any other letter of its script is a word of that script, not a disguise.
    assert normalise.merchant("\u041c\u0430\u0433\u0430\u0437\u0438\u043d") == "МАГАЗИН"
    assert normalise.merchant("MR. D.I.Y. (\u041c\u0430\u0433\u0430\u0437\u0438\u043d)") == (
        "MR D I Y МАГАЗИН"
    )
    assert normalise.merchant("K\u00e9dai") == "KEDAI"  # Latin accents as before


def test_a_name_in_any_script_keeps_its_letters_without_accents_or_case():
    assert normalise.merchant("Καφέ Λουκουμάς Α.Ε.") == normalise.merchant("ΚΑΦΕ ΛΟΥΚΟΥΜΑΣ Α Ε")
    assert normalise.merchant("Καφέ Λουκουμάς") == "ΚΑΦΕ ΛΟΥΚΟΥΜΑΣ"
    assert normalise.merchant("永和豆漿大王（台北）") == "永和豆漿大王 台北"
    # A Thai vowel or tone mark is a letter of the name, not an accent.
    assert normalise.merchant("เซเว่น อีเลฟเว่น") == "เซเว่น อีเลฟเว่น"
    assert normalise.merchant("مطعم الشام") == "مطعم الشام"
    assert normalise.merchant_similarity("永和豆漿大王", "鼎泰豐小籠包") == 0.0


def test_a_name_of_ascii_letters_normalises_as_stored_before():
    # DataFingerprint rows hold what merchant() made of a name: these compare unchanged.
    assert normalise.merchant("Book Ta .K (Taman Daya) Sdn. Bhd.") == "BOOK TA K TAMAN DAYA"
    assert normalise.merchant("AB_CD-EF & Co.") == "AB CD EF"
    assert normalise.merchant("ＫＥＤＡＩ ＢＵＫＵ") == "KEDAI BUKU"
    assert normalise.merchant_similarity("BOOK TA K TAMAN DAYA", "BOOKTA K TAMANDAYA") == 1.0


def test_normalise_merchant_similarity_time_and_numbers():
    same = normalise.merchant_similarity(
        normalise.merchant("BOOKTA_K(TAMANDAYA)SDN BHD"),
        normalise.merchant("Book Ta .K (Taman Daya) Sdn. Bhd."),
    )
    assert same == 1.0
    misread = normalise.merchant_similarity("UNIHAKKA INTER NATION AL", "UNIHAKKA INTERNATIONAL")
    assert misread > 0.9
    assert normalise.merchant_similarity("POPULAR BOOK CO M", "SYARIKAT PERNIAGAAN GIN KEE") < 0.1
    assert normalise.merchant_similarity("", "ABC") == 0.0
    assert normalise.time("20:13") == "20:13"
    assert normalise.time("8:13:39PM") == "20:13"
    assert normalise.time("12:05 am") == "00:05"
    assert normalise.time(dt.time(9, 7)) == "09:07"
    assert normalise.time("25:61") == normalise.time(None) == ""
    assert normalise.receipt_number("CS 00035863") == "CS00035863"
    # One or two misread characters are the same number; more is another receipt.
    assert not normalise.numbers_conflict("CS00035863", "CS00035883")
    assert normalise.numbers_conflict("CS00035863", "CS00041211")
    assert not normalise.numbers_conflict("", "CS00041211")
    assert normalise.one_digit_apart(dt.date(2018, 3, 20), dt.date(2010, 3, 20))
    assert not normalise.one_digit_apart(dt.date(2018, 3, 20), dt.date(2020, 3, 20))
    assert not normalise.one_digit_apart(dt.date(2018, 3, 20), dt.date(2018, 3, 20))


def _jpeg_with_software(software: str) -> bytes:
    image = Image.new("RGB", (64, 64), "white")
    exif = Image.Exif()
    exif[305] = software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_editing_software_in_exif_is_a_signal():
    report = tampering.TamperingReport()
    meta = tampering.image_metadata(_jpeg_with_software("Adobe Photoshop 25.0 (Windows)"))
    tampering.check_metadata(report, meta, "file_1")
    assert report.signals[0]["signal"] == "editing_software"
    assert report.signals[0]["value"].startswith("Adobe Photoshop")
    clean = tampering.TamperingReport()
    tampering.check_metadata(clean, tampering.image_metadata(_jpeg_with_software("iOS 17.1")), "f")
    assert not clean.signals


def _png_with_metadata_after_its_pixels(width: int, height: int) -> bytes:
    """A PNG whose Software text and EXIF come after its pixel data, as the PNG spec
    allows: Pillow finds them only by decoding the whole image."""
    exif = Image.Exif()
    exif[305] = "GIMP 2.10.36"
    data = _png(Image.new("L", (width, height), 255))
    end = data.rindex(b"IEND") - 4
    chunks = [(b"tEXt", b"Software\x00paint.net 5.0"), (b"eXIf", exif.tobytes())]
    return data[:end] + b"".join(_png_chunk(kind, body) for kind, body in chunks) + data[end:]


def test_an_images_metadata_is_read_without_decoding_its_pixels(monkeypatch):
    # The fraud checks run in the worker itself, not in the extraction's capped child: a
    # 300-KB PNG of 10000 x 10000 pixels was decoded there (~400 MB, ~2 s) to find them.
    data = _png_with_metadata_after_its_pixels(3_000, 3_000)

    def decoded(image):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoded)
    assert tampering.image_metadata(data) == {
        "exif.Software": "GIMP 2.10.36",
        "png.Software": "paint.net 5.0",
    }
    report = tampering.TamperingReport()
    tampering.check_synthetic(report, data, "f")
    assert not report.signals


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@needs_sroie
def test_screenshot_like_file_is_a_signal_and_a_scan_is_not():
    rendered = Image.new("RGB", (1170, 2532), "white")
    report = tampering.TamperingReport()
    tampering.check_synthetic(report, _png(rendered), "f")
    assert report.signals and report.signals[0]["signal"] == "screenshot_like"
    scan = tampering.TamperingReport()
    tampering.check_synthetic(scan, receipt_bytes(3), "f")  # a JPEG scan
    tampering.check_synthetic(scan, _png(receipt(3)), "f")  # scan as PNG, not screen-sized
    assert not scan.signals


def test_arithmetic_mismatch():
    items = [{"description": "a", "quantity": 1, "amount": "3.00"}, {"amount": "4.00"}]
    report = tampering.TamperingReport()
    tampering.check_arithmetic(report, {"totalAmount": "9.00", "lineItems": items}, 30)
    assert report.signals[0]["signal"] == "arithmetic_mismatch"
    fine = tampering.TamperingReport()
    fields = {"totalAmount": "7.42", "taxAmount": "0.42", "lineItems": items}
    tampering.check_arithmetic(fine, fields, 30)
    assert not fine.signals


def test_a_credit_note_whose_items_are_printed_positive_adds_up():
    items = [{"description": "BREAD RETURNED", "amount": "4.80"}, {"amount": "0.00"}]
    fields = {"totalAmount": "-5.09", "taxAmount": "-0.29", "lineItems": items}
    refund = tampering.TamperingReport()
    tampering.check_arithmetic(refund, fields, 30)
    assert not refund.signals
    wrong = tampering.TamperingReport()
    tampering.check_arithmetic(wrong, {**fields, "totalAmount": "-9.09"}, 30)
    assert wrong.signals[0]["signal"] == "arithmetic_mismatch"
    assert (wrong.signals[0]["total"], wrong.signals[0]["tax"]) == ("-9.09", "-0.29")  # as read


def test_pdf_producer_of_an_editor_is_a_signal():
    def pdf(producer: str) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (200, 300), "white").save(out, format="PDF", producer=producer)
        return out.getvalue()

    edited = tampering.pdf_metadata(pdf("PDF-XChange Editor 9.5"))
    report = tampering.TamperingReport()
    tampering.check_metadata(report, edited, "f")
    assert report.signals and report.signals[0]["field"] == "pdf.Producer"
    office = tampering.TamperingReport()
    tampering.check_metadata(office, tampering.pdf_metadata(pdf("LibreOffice 7.6")), "f")
    assert not office.signals


def test_text_score_bands_and_weak_pieces_add_up_to_a_flag():
    policy = FraudPolicy.from_json({})
    strong, weak = policy.text_min_similarity, policy.text_weak_similarity
    assert (strong, weak) == (0.75, 0.5)
    assert text_score(1.0, strong, weak) == 90.0  # below the block threshold of 95
    assert text_score(strong, strong, weak) == 55.0
    assert text_score(weak, strong, weak) == 30.0
    assert text_score(weak - 0.01, strong, weak) == 0.0
    # Any two weak pieces about one pair reach the flag threshold, one alone does not.
    assert combine([30.0]) < policy.flag_threshold <= combine([30.0, 30.0])
    # The weak threshold never lies above the strong one.
    assert FraudPolicy.from_json({"text_weak_similarity": 0.9}).text_weak_similarity == 0.75
