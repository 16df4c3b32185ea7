"""The worker never holds a session's page images: each file's pages are reduced to their
fraud fingerprints in the process that reads the file, and only those cross back."""

import hashlib
import io
import json
import pickle
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from fraud.models import FraudMatch, PageFeatures, PageFingerprint
from jobs import pipeline
from jobs.extraction import Page, isolated
from jobs.extraction.layout import Word
from jobs.models import WorkflowSession
from submissions.models import SubmissionFile
from tests.jobs.fixtures_docs import invoice_pdf, receipt_pdf, render_png
from tests.jobs.test_sessions_api import create

pytestmark = pytest.mark.django_db

# What the pipeline stored for the two sessions of run_both (stored_results), recorded at
# 085d72e, whose worker held every page image and hashed the pages itself; re-recorded
# when a scanned PDF page came to be rendered to its drawing (its crop, fingerprints and
# features changed; every field, confidence and match stayed).
RECORDED = Path(__file__).parent / "data" / "pipeline_pages_recorded.json"

LINES = [
    ("KEDAI", 0.30, 0.05, 0.50, 0.08),
    ("BUKU", 0.52, 0.05, 0.66, 0.08),
    ("MAJU", 0.68, 0.05, 0.80, 0.08),
    ("Date:", 0.10, 0.20, 0.25, 0.23),
    ("14/03/2018", 0.27, 0.20, 0.50, 0.23),
    ("Notebook", 0.10, 0.40, 0.35, 0.43),
    ("12.50", 0.75, 0.40, 0.90, 0.43),
    ("TOTAL", 0.10, 0.60, 0.30, 0.63),
    ("RM", 0.32, 0.60, 0.40, 0.63),
    ("17.90", 0.75, 0.60, 0.90, 0.63),
]


class FixedEngine:
    """OCR that reads the same words on every page, quickly and the same on any machine:
    what is compared is what the pipeline does with the pages, not the model's reading."""

    name, upright_confidence = "fixed", 0.8

    def recognize(self, image: Image.Image) -> list[Word]:
        return [Word(text=t, bbox=(x0, y0, x1, y1), confidence=0.97) for t, x0, y0, x1, y1 in LINES]


def receipt_document(*, copy: bool) -> bytes:
    """Three A4 pages: two with a text layer, and a scan of a till receipt. The copy has
    the same text pages and the receipt scanned again, tilted and softened."""
    scan = Image.open(io.BytesIO(render_png(receipt_pdf(), dpi=150))).convert("RGB")
    if copy:
        scan = scan.rotate(1.5, resample=Image.Resampling.BICUBIC, fillcolor="white")
        scan = scan.resize((scan.width * 9 // 10, scan.height * 9 // 10))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("copy" if copy else "original")
    for page in (1, 2):
        pdf.setFont("Helvetica", 11)
        rows = [
            "KEDAI BUKU MAJU SDN BHD",
            "12, JALAN MERDEKA, 50050 KUALA LUMPUR",
            f"Statement page {page}",
            "Date: 14/03/2018 10:25",
            *[f"Item {page}-{n} notebook A5 ........ {n + 2}.50" for n in range(12)],
            "TOTAL RM 17.90",
        ]
        for row, text in enumerate(rows):
            pdf.drawString(72, 780 - row * 22, text)
        pdf.showPage()
    pdf.drawImage(ImageReader(scan), 120, 200, width=300, height=420)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def submit_pdf(api, data: bytes, client_id: str) -> str:
    _, body, _ = create(api, contentTypes=["application/pdf"], clientSubmissionId=client_id)
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    assert api.generic("PUT", path, data, content_type="application/pdf").status_code < 300
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return body["sessionId"]


def run_both(api, monkeypatch) -> list[str]:
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())
    sessions = []
    for copy in (False, True):
        session_id = submit_pdf(api, receipt_document(copy=copy), f"pages-{copy}")
        pipeline.run(session_id)
        sessions.append(session_id)
    return sessions


def stored_results(session_ids: list[str]) -> list[dict]:
    """What the pipeline stored per session, with its random ids replaced by positions."""
    sessions = [WorkflowSession.objects.get(pk=pk) for pk in session_ids]
    submissions = [s.submission_id for s in sessions]
    files = {
        f.pk: f"file{submissions.index(f.submission_id)}.{f.file_index}"
        for f in SubmissionFile.objects.filter(submission_id__in=submissions)
    }
    names = {**files, **{pk: f"submission{n}" for n, pk in enumerate(submissions)}}

    def named(value: object) -> object:
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items()}
        if isinstance(value, list):
            return [named(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    results = []
    for session in sessions:
        submission = session.submission
        file = submission.files.get()
        results.append(
            named(
                {
                    "state": session.state,
                    "status": submission.status,
                    "fields": submission.extracted_data,
                    "confidences": submission.field_confidences,
                    "evidence": submission.evidence,
                    "pagesText": submission.pages_text,
                    "summary": submission.ai_summary,
                    "fraud": [submission.fraud_status, submission.fraud_score],
                    "pages": [file.page_count, file.page_transforms],
                    "fingerprints": sorted(
                        [f.file_id, f.page, f.variant, bytes(f.pdq).hex(), f.quality]
                        for f in PageFingerprint.objects.filter(submission_id=submission.pk)
                    ),
                    "features": sorted(
                        [f.file_id, f.page, hashlib.sha256(f.data).hexdigest()]
                        for f in PageFeatures.objects.filter(submission_id=submission.pk)
                    ),
                    "matches": sorted(
                        (
                            [m.check_type, m.target_submission_id, m.score, m.similarity]
                            + [m.status, m.details]
                            for m in FraudMatch.objects.filter(submission_id=submission.pk)
                        ),
                        key=json.dumps,
                    ),
                }
            )
        )
    return json.loads(json.dumps(results))  # as stored: tuples become lists


def test_results_are_those_of_the_worker_that_held_every_page(api, workflows, monkeypatch):
    results = stored_results(run_both(api, monkeypatch))
    assert results[1]["matches"], "the copy is found: the fraud checks ran on its pages"
    assert results == json.loads(RECORDED.read_text())


def test_no_page_image_reaches_the_worker_process(api, workflows, monkeypatch):
    """The reading process hands back each page's fingerprints, not its image: a worker
    that unpickled a session's images (5 files of 20 scanned A4 pages) peaked near 2 GB."""
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())
    unpickled: list[tuple[int, int]] = []
    setstate = Image.Image.__setstate__

    def spy(image: Image.Image, state: list) -> None:
        unpickled.append(state[2])  # its size
        setstate(image, state)

    monkeypatch.setattr(Image.Image, "__setstate__", spy)
    handed: list[dict] = []
    run_checks = pipeline.fraud_run_checks
    monkeypatch.setattr(
        pipeline, "fraud_run_checks", lambda **kw: handed.append(kw) or run_checks(**kw)
    )
    session_id = submit_pdf(api, receipt_document(copy=False), "pages")
    pipeline.run(session_id)
    assert WorkflowSession.objects.get(pk=session_id).state == "completed"
    assert unpickled == []
    [checks] = handed
    assert not checks.get("pages") and len(checks["hashed"]) == 3


def test_what_the_worker_keeps_of_a_page_is_a_small_part_of_its_image():
    """It keeps every page's fingerprints of a session until its fraud step has run."""
    scan = Image.open(io.BytesIO(render_png(invoice_pdf(), dpi=200))).convert("RGB")
    assert scan.size == (1654, 2339)  # a scanned A4 page: 11.6 MB decoded
    page = Page(index=0, image=scan, words=[])
    kept = pipeline._page_read("file_1", page)
    assert kept.hashed is not None and kept.hashed.features is not None
    assert len(pickle.dumps(kept)) < 250_000
