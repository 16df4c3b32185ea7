"""Shared helpers for the fraud tests: sroie-dev receipts, re-captures, submissions."""

from __future__ import annotations

import io
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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
