"""The local-feature check (fraud.local): re-photographs, large scans, one shop's receipts."""

import io

import numpy as np
import pytest
from PIL import Image

from fraud import local
from fraud.models import FraudMatch, PageFeatures
from fraud.policy import FraudPolicy, local_score
from fraud.services import PageImage, fraud_run_checks
from jobs.extraction import load_document, parse_fields, read_text
from tests.fraud.helpers import make_submission, receipt, receipt_bytes, sroie_available

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not sroie_available(), reason="sroie-dev not present"),
]
M = FraudMatch
# Two receipts of one shop (SYARIKAT PERNIAGAAN GIN KEE): one template, other numbers.
SAME_SHOP = (113, 126)
# Two receipts of one canteen (UNIHAKKA): the same $8.20 lunch two days apart, printed
# small on an A4 sheet that is otherwise blank, so even the page hashes come close.
CANTEEN = ((30, "2018-03-05"), (32, "2018-03-03"))


def _bench_transforms():
    from fraud_transforms import encode_jpeg, rephotograph_hard

    return encode_jpeg, rephotograph_hard


def submit(company, data: bytes, *, ocr: bool = False):
    """What the pipeline does with an uploaded file: load it, read it (with `ocr`: the
    calls extract_document makes), then run the fraud checks on its pages as OCR left them,
    with the words, text and fields it read."""
    submission, file = make_submission(company)
    document = load_document(data)
    fields, text = {}, ""
    if ocr:
        read_text(document)
        extraction = parse_fields(document, kind="receipt")
        fields, text = extraction.fields, "\n".join(extraction.pages_text)
    pages = [
        PageImage(file_id=file.pk, page=p.index, image=p.image, words=p.words)
        for p in document.pages
    ]
    outcome = fraud_run_checks(submission_id=submission.pk, pages=pages, fields=fields, text=text)
    return submission, outcome, document


def visual_match(submission) -> FraudMatch:
    return M.objects.get(submission=submission, check_type="visual")


def test_a_rephotographed_copy_is_matched_to_its_original_through_the_pipeline(company):
    encode_jpeg, rephotograph_hard = _bench_transforms()
    original, _, _ = submit(company, receipt_bytes(5), ocr=True)
    photo = rephotograph_hard(
        receipt(5), np.random.default_rng(7), tilt=(7.0, 8.0), blur=1.5, phone=False
    )
    copy, outcome, _ = submit(company, encode_jpeg(photo, 80), ocr=True)
    match = visual_match(copy)
    assert match.target_submission_id == original.pk
    assert outcome.status != "clean"
    found = match.details["local"]
    # The keypoints align the photo with the original (one homography, most of the page).
    policy = FraudPolicy.from_json({})
    assert found["method"] == "orb-homography"
    assert found["inliers"] >= policy.local_min_inliers
    assert found["coverage"] >= policy.local_min_coverage
    # What the reviewer sees: the matched region on both pages, within each page.
    for key in ("outline", "targetOutline", "points", "targetPoints"):
        assert len(found[key]) >= 3
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in found[key])


def _scan_35mp(number: int) -> Image.Image:
    """A 600-dpi A4 scan of a receipt: 4961x7016 pixels, the receipt upscaled on white."""
    page = Image.new("RGB", (4961, 7016), "white")
    image = receipt(number).convert("RGB")
    fit = min(4500 / image.width, 6600 / image.height)
    scaled = image.resize((round(image.width * fit), round(image.height * fit)))
    page.paste(scaled, ((4961 - scaled.width) // 2, (7016 - scaled.height) // 2))
    return page


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def test_a_35mp_scan_and_its_rotated_copy_are_both_processed_and_matched(company):
    scan = _scan_35mp(5)
    rotated = scan.rotate(3, resample=Image.Resampling.BILINEAR, expand=True, fillcolor="white")
    first, first_outcome, _ = submit(company, _jpeg(scan))
    second, outcome, _ = submit(company, _jpeg(rotated))
    assert first_outcome.status == "clean"
    assert visual_match(second).target_submission_id == first.pk
    assert outcome.status != "clean"
    assert PageFeatures.objects.filter(submission__in=[first, second]).count() == 2


def test_an_image_over_the_pixel_budget_is_scaled_down_not_refused():
    data = _jpeg(_scan_35mp(5))
    document = load_document(data, max_pixels=12_000_000)
    width, height = document.pages[0].image.size
    assert width * height <= 12_000_000
    assert abs(width / height - 4961 / 7016) < 0.01


def test_distinct_receipts_of_one_shop_are_not_matched_by_the_new_stage(company):
    policy = FraudPolicy.from_json({})
    first, second = (local.local_features(receipt(n)) for n in SAME_SHOP)
    verdict = local.verify(second, first)
    # They align (one template, one length) but their numbers differ.
    assert verdict is not None and verdict.inliers >= policy.local_min_inliers
    assert verdict.changed > policy.local_max_change
    assert local_score(verdict, policy) == 0
    earlier, _, _ = submit(company, receipt_bytes(SAME_SHOP[0]))
    later, _, _ = submit(company, receipt_bytes(SAME_SHOP[1]))
    for match in M.objects.filter(submission=later, target_submission=earlier):
        assert match.details.get("local", {}).get("score", 0) == 0


def _canteen_lunch(company, number: int, day: str, policy: dict | None = None, text: str = ""):
    """A canteen receipt through the checks, read as `day` (the fields and text are given,
    not read: the test is about the checks, not OCR)."""
    submission, file = make_submission(company, policy=policy)
    fields = {"merchantName": "UNIHAKKA INTERNATIONAL SDN BHD", "totalAmount": 8.2, "date": day}
    submission.extracted_data = fields  # stored before any later submission is checked
    submission.save(update_fields=["extracted_data"])
    document = load_document(receipt_bytes(number))
    pages = [PageImage(file_id=file.pk, page=0, image=document.pages[0].image)]
    outcome = fraud_run_checks(submission_id=submission.pk, pages=pages, fields=fields, text=text)
    return submission, outcome


# What OCR reads of two of the canteen's lunches: the shop's digits (registration, phone,
# GST number, prices) are shared, the date and receipt number differ. Digit-shingle
# Jaccard 0.68: weak text evidence (text_weak_similarity 0.5 to text_min_similarity 0.75).
CANTEEN_LINES = (
    "UNIHAKKA INTERNATIONAL SDN BHD (867388-U)",
    "12 JALAN TAMPOI 7/4 81200 JOHOR BAHRU",
    "TEL 07-3363 703",
    "GST REG 002116837376",
    "LUNCH BOX 8.20",
    "TOTAL 8.20 CASH 10.00 CHANGE 1.80",
)
CANTEEN_TEXT = (
    "\n".join((*CANTEEN_LINES, "DATE 05/03/2018 12:01", "RECEIPT OR18030502170419")),
    "\n".join((*CANTEEN_LINES, "DATE 03/03/2018 12:09", "RECEIPT OR18030302170533")),
)


def _text_match(submission):
    return M.objects.filter(submission=submission, check_type="text").first()


def test_another_day_s_lunch_with_the_shop_s_digits_is_not_flagged(company):
    (first, first_day), (second, second_day) = CANTEEN
    _canteen_lunch(company, first, first_day, text=CANTEEN_TEXT[0])
    later, outcome = _canteen_lunch(company, second, second_day, text=CANTEEN_TEXT[1])
    assert outcome.status == "clean"
    assert not M.objects.filter(submission=later).exists()


def test_the_same_day_s_lunch_keeps_its_weak_text_evidence(company):
    (first, day), (second, _) = CANTEEN
    _canteen_lunch(company, first, day, text=CANTEEN_TEXT[0])
    later, outcome = _canteen_lunch(company, second, day, text=CANTEEN_TEXT[1])
    match = _text_match(later)
    assert outcome.status == "flagged"
    assert match is not None and match.score > 0 and match.details.get("weak")
    assert "otherDate" not in match.details


def test_a_receipt_on_the_same_template_with_another_date_is_not_flagged(company):
    (first, first_day), (second, second_day) = CANTEEN
    earlier, _ = _canteen_lunch(company, first, first_day)
    later, outcome = _canteen_lunch(company, second, second_day)
    assert outcome.status == "clean"
    assert not M.objects.filter(submission=later).exists()


def test_the_date_rule_is_what_keeps_another_day_s_lunch_clean(company):
    (first, first_day), (second, second_day) = CANTEEN
    policy = {"visual_other_date": False}
    earlier, _ = _canteen_lunch(company, first, first_day, policy)
    later, outcome = _canteen_lunch(company, second, second_day, policy)
    # Without it, the layout's look-alike and the same total two days apart add up.
    assert outcome.status == "flagged"
    assert visual_match(later).target_submission_id == earlier.pk


def test_the_same_template_on_the_same_date_keeps_its_visual_evidence(company):
    (first, day), (second, _) = CANTEEN
    earlier, _ = _canteen_lunch(company, first, day)
    later, outcome = _canteen_lunch(company, second, day)
    match = visual_match(later)
    assert outcome.status == "flagged" and match.score > 0
    assert "otherDate" not in match.details


def test_a_look_alike_counts_when_a_date_was_not_read(company):
    # Without a date on one side nothing says "another receipt": the look-alike stands
    # (a low flag threshold, so the visual evidence alone is written).
    policy = {"flag_threshold": 30}
    (first, first_day), (second, _) = CANTEEN
    earlier, _ = _canteen_lunch(company, first, first_day, policy)
    later, _ = _canteen_lunch(company, second, "", policy)
    match = visual_match(later)
    assert match.target_submission_id == earlier.pk and match.score > 0
    assert "otherDate" not in match.details


def test_local_features_survive_storage():
    features = local.local_features(receipt(5))
    again = local.LocalFeatures.from_bytes(features.to_bytes())
    assert (again.width, again.height) == (features.width, features.height)
    assert np.array_equal(again.descriptors, features.descriptors)
    assert np.array_equal(again.ink, features.ink)
    assert np.abs(again.points - features.points).max() < 1e-4


def test_the_panel_draws_the_matched_region_on_both_pages(ui, company):
    from django.urls import reverse

    from submissions.models import SubmissionStatus
    from tests import factories
    from tests.submissions.test_review_support import stored_file, submission_with_file

    earlier = factories.SubmissionFactory(company=company, status=SubmissionStatus.APPROVED)
    target_file = stored_file(earlier)
    later = submission_with_file(company)
    own = later.files.get()
    region = [[0.1, 0.1], [0.9, 0.12], [0.88, 0.9], [0.12, 0.85]]
    M.objects.create(
        company=company,
        submission=later,
        target_submission=earlier,
        check_type=M.CheckType.VISUAL,
        score=80.0,
        similarity=0.98,
        details={
            "file": own.pk,
            "page": 0,
            "targetFile": target_file.pk,
            "targetPage": 0,
            "local": {
                "method": "orb-homography",
                "inliers": 312,
                "score": 80.0,
                "outline": region,
                "targetOutline": [[0.2, 0.1], [0.8, 0.1], [0.8, 0.95], [0.2, 0.95]],
                "points": [[0.5, 0.5], ["x", 1]],  # a malformed point is dropped
                "targetPoints": [[0.4, 0.6]],
            },
        },
    )
    url = reverse("fraud:panel", args=[later.pk])
    html = ui.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "data-local-regions" in html and "312 keypoints agree" in html
    assert 'points="0.1000,0.1000 0.9000,0.1200 0.8800,0.9000 0.1200,0.8500"' in html
    assert 'points="0.2000,0.1000 0.8000,0.1000 0.8000,0.9500 0.2000,0.9500"' in html
    assert html.count("<circle") == 2
