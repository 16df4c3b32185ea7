"""A stand-in for extraction, so lifecycle tests run the real pipeline in milliseconds."""

from PIL import Image

from jobs.extraction import Extraction, Page
from jobs.pipeline import PageRead, _page_read

FIELDS = {"merchantName": "Kedai Test", "date": "2026-01-02", "totalAmount": 12.5}


def fake_extract_file(
    session, file, deadline: float | None = None, on_progress=None, *, confidence: float = 0.99
) -> tuple[list[PageRead], Extraction]:
    page = Page(index=0, image=Image.new("RGB", (40, 60), "white"))
    extraction = Extraction(
        kind=session.workflow_version.kind,
        fields=dict(FIELDS),
        field_confidences=dict.fromkeys(FIELDS, confidence),
        evidence={},
        pages_text=["Kedai Test 12.50"],
        confidence=confidence,
        certainty=confidence,
        summary="A test receipt.",
    )
    return [_page_read(file.pk, page)], extraction
