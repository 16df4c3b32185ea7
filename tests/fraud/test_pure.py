"""Hashing, text similarity, normalisation and tampering signals, without the database."""

import datetime as dt
import io
from decimal import Decimal

import numpy as np
import pytest
from PIL import Image

from fraud import hashing, normalise, tampering, textsim
from fraud.index import HammingIndex, hash_to_words, hashes_to_words
from tests.fraud.helpers import recaptured, receipt, receipt_bytes, sroie_available

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
    reprint = RECEIPT_TEXT.replace("Vegetable", "Vegetab1e").replace("18:19", "18:19 ")
    a, b, c = (textsim.minhash(t) for t in (RECEIPT_TEXT, reprint, OTHER_DAY))
    assert textsim.similarity(a, b) >= 0.8
    assert textsim.similarity(a, c) < 0.5
    assert set(textsim.band_keys(a)) & set(textsim.band_keys(b))
    assert textsim.minhash("") is None
    assert np.array_equal(textsim.from_bytes(textsim.to_bytes(a)), a)


def test_normalise_fields():
    assert normalise.merchant("Book Ta .K (Taman Daya) Sdn. Bhd.") == "BOOK TA K TAMAN DAYA"
    assert normalise.merchant("99 SPEED MART S/B") == normalise.merchant("99 speed mart")
    assert normalise.amount("RM 1,234.50") == Decimal("1234.50")
    assert normalise.amount("9,00") == Decimal("9.00")
    assert normalise.amount(12.5) == Decimal("12.50")
    assert normalise.amount("n/a") is None
    assert normalise.date("25/12/2018") == dt.date(2018, 12, 25)
    assert normalise.date("19 MAR 2018") == dt.date(2018, 3, 19)
    assert normalise.date("19-09-17") == dt.date(2017, 9, 19)
    assert normalise.date("2018-03-19") == dt.date(2018, 3, 19)
    assert normalise.date("31/02/2018") is None


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
