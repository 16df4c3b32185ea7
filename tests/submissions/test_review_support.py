"""Shared helpers of the review UI tests: reviewers, real image/PDF files in storage, a
flagged submission."""

import io
import json

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from PIL import Image, ImageDraw, ImageFont

from fraud.models import FraudMatch
from steve.models import Company
from submissions.models import Submission, SubmissionFile, SubmissionStatus
from tests import factories


def png_bytes(color: str = "#c8d2e0", size: tuple[int, int] = (60, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def receipt_png(lines: list[str], size: tuple[int, int] = (300, 460)) -> bytes:
    """A receipt-looking PNG: dark text lines on paper, so screenshots show real content."""
    image = Image.new("RGB", size, "#fbf8f1")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    for n, line in enumerate(lines):
        draw.text((24, 28 + n * 26), line, fill="#222222", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_bytes(pages: int = 2) -> bytes:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(200, 300)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def stored_file(
    submission: Submission, *, index: int = 0, content: bytes | None = None, mime: str = ""
) -> SubmissionFile:
    """A SubmissionFile whose bytes really are in default_storage at its storage_key."""
    content = content if content is not None else png_bytes()
    mime = mime or ("application/pdf" if content.startswith(b"%PDF") else "image/png")
    key = f"submissions/{submission.company_id}/{submission.pk}/{index}"
    default_storage.save(key, ContentFile(content))
    return factories.SubmissionFileFactory(
        submission=submission,
        file_index=index,
        mime_type=mime,
        declared_content_type=mime,
        size=len(content),
        storage_key=key,
    )


def submission_with_file(company: Company, **fields: object) -> Submission:
    submission = factories.SubmissionFactory(company=company, **fields)
    stored_file(submission)
    return submission


def flag(submission: Submission, target: Submission) -> FraudMatch:
    match = FraudMatch.objects.create(
        company=submission.company,
        submission=submission,
        target_submission=target,
        check_type=FraudMatch.CheckType.VISUAL,
        score=81.0,
        similarity=0.93,
    )
    Submission.objects.filter(pk=submission.pk).update(fraud_status="flagged", fraud_score=81.0)
    return match


def flagged_pairs(company, pairs: int = 1) -> tuple[Submission, list[list[FraudMatch]]]:
    """A submission in review matched with `pairs` earlier ones (a visual and a data check
    each), as the panel shows them: one card per pair."""
    waiting = submission_with_file(company)
    found = []
    for _ in range(pairs):
        earlier = submission_with_file(company, status=SubmissionStatus.APPROVED)
        found.append(
            [
                FraudMatch.objects.create(
                    company=company,
                    submission=waiting,
                    target_submission=earlier,
                    check_type=kind,
                    score=80.0,
                    similarity=0.9,
                )
                for kind in (FraudMatch.CheckType.VISUAL, FraudMatch.CheckType.DATA)
            ]
        )
    Submission.objects.filter(pk=waiting.pk).update(fraud_status="flagged", fraud_score=80.0)
    waiting.refresh_from_db()
    return waiting, found


def page_told(response: HttpResponse) -> str:
    """The events an htmx answer sends the page's other regions (HX-Trigger), each fired
    on body: the form that asked may be off the page by the time the answer comes."""
    events = json.loads(response["HX-Trigger"])
    assert all(params == {"target": "body"} for params in events.values()), events
    return ", ".join(events)
