"""Shared helpers for the fraud tests: sroie-dev receipts, re-captures, submissions."""

from __future__ import annotations

import io
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fraud.services import PageImage
from steve.models import Company
from submissions.models import Submission
from tests import factories

REPO = Path(__file__).resolve().parents[2]
SROIE = REPO.parent / "shared" / "datasets" / "sroie-dev"
sys.path.insert(0, str(REPO / "bench"))

from fraud_transforms import TRANSFORMS  # noqa: E402


def sroie_available() -> bool:
    return (SROIE / "img" / "000.jpg").exists()


@cache
def receipt_bytes(number: int) -> bytes:
    return (SROIE / "img" / f"{number:03d}.jpg").read_bytes()


def receipt(number: int) -> Image.Image:
    return Image.open(io.BytesIO(receipt_bytes(number)))


def receipt_key(number: int) -> dict[str, str]:
    return json.loads((SROIE / "key" / f"{number:03d}.json").read_text())


def recaptured(number: int, transform: str, seed: int = 0) -> Image.Image:
    data = TRANSFORMS[transform](receipt(number), np.random.default_rng(seed))
    return Image.open(io.BytesIO(data))


def make_submission(
    company: Company,
    *,
    sha256: str | None = None,
    policy: dict | None = None,
    environment: str = "production",
):
    # Processing and not checked yet, as the pipeline calls the checks: a twin found in
    # that state carries the match (fraud.services._carrier).
    submission = factories.SubmissionFactory(
        company=company, environment=environment, status="processing", fraud_status=None
    )
    if policy is not None:
        version = submission.workflow_version
        version.fraud_policy = policy
        version.save(update_fields=["fraud_policy"])
    file = factories.SubmissionFileFactory(
        submission=submission, **({"sha256": sha256} if sha256 else {})
    )
    return submission, file


def pages_for(file: Any, image: Image.Image) -> list[PageImage]:
    return [PageImage(file_id=file.pk, page=0, image=image)]


def refetch(submission: Submission) -> Submission:
    return Submission.objects.get(pk=submission.pk)


def till_receipt(number: int, total: str) -> Image.Image:
    """A till receipt of one shop: the same header and items, this receipt's number,
    date and total."""
    image = Image.new("L", (620, 1100), 255)
    draw = ImageDraw.Draw(image)
    big, small = ImageFont.load_default(size=30), ImageFont.load_default(size=22)
    draw.text((120, 40), "KEDAI RUNCIT AH SENG", font=big, fill=0)
    draw.text((110, 90), "NO 12 JALAN SATU, 50000 KL", font=small, fill=0)
    draw.text(
        (40, 160), f"Receipt {number:08d}   {number % 28 + 1:02d}/05/2024", font=small, fill=0
    )
    items = ["MILO 1KG", "GARDENIA BREAD", "EGGS GRADE A", "SUGAR 2KG", "COOKING OIL", "RICE 5KG"]
    for row, item in enumerate(items):
        y = 230 + row * 60
        draw.text((40, y), f"{row + 1} x {item}", font=small, fill=0)
        draw.text((480, y), f"{(row + 3) * 1.75 + number % 7:.2f}", font=small, fill=0)
    draw.text((40, 650), "TOTAL", font=big, fill=0)
    draw.text((440, 650), total, font=big, fill=0)
    draw.text((40, 720), f"CASH 100.00  CHANGE {number % 50}.10", font=small, fill=0)
    draw.text((150, 820), "THANK YOU, PLEASE COME AGAIN", font=small, fill=0)
    for bar in range(40):  # a barcode: texture the keypoints hold on to
        draw.rectangle((120 + bar * 9, 900, 120 + bar * 9 + (bar * number) % 5 + 1, 980), fill=0)
    return image


def reencoded(image: Image.Image) -> Image.Image:
    """The same receipt as another file: scaled and saved as a JPEG."""
    out = io.BytesIO()
    image.resize((image.width * 9 // 10, image.height * 9 // 10)).save(out, "JPEG", quality=80)
    return Image.open(io.BytesIO(out.getvalue()))
