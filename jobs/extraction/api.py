"""The extraction entry points the pipeline and the CLI call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from .document import Document, Page, open_document
from .errors import STEP_PARSING, ExtractionError
from .fields import Candidate
from .invoice import parse_invoice
from .layout import Line, Word, group_lines
from .ocr import LineReader, OcrEngine, get_engine, no_text_found, read_page
from .ranker import FieldModel, Option, load_model
from .receipt import RIVAL_TOTAL_CUE, choose_fields, read_receipt
from .schemas import REQUIRED_FIELDS
from .shown import RenderBox, cap_faint_pages, check_text_layer
from .values import to_money

KINDS = tuple(REQUIRED_FIELDS)
T = TypeVar("T")


@dataclass
class Extraction:
    """Parsed fields of one document; ``cues`` lists, per field, the evidence kinds that
    agreed on its value (for the summary and for debugging confidences)."""

    kind: str
    fields: dict[str, Any]
    field_confidences: dict[str, float]
    evidence: dict[str, list[dict]]
    pages_text: list[str]
    confidence: float
    certainty: float
    summary: str
    cues: dict[str, list[str]] = field(default_factory=dict)
    # What the field model ranked, per field (receipts): lets the benchmark re-choose
    # with a model fitted elsewhere. Not stored with the submission.
    options: dict[str, list[Option]] = field(default_factory=dict)


@dataclass(frozen=True)
class PageText:
    """What parsing needs of a page once it is read: its words and text, not its image."""

    index: int
    words: list[Word]
    text: str
    has_text_layer: bool = False
    # How far its words' boxes are turned from the page as displayed (Page.transform).
    turn: int = 0
    # Most of its PDF text is painted too light to see (Page.faint).
    faint: bool = False
    # A text page's height in points, as its words are boxed (Page.height_pt); 0 unknown.
    height_pt: float = 0.0


def document_lines(document: Document) -> list[Line]:
    return pages_lines(document.pages)


def pages_lines(pages: Sequence[Page | PageText]) -> list[Line]:
    lines: list[Line] = []
    for page in pages:
        lines.extend(group_lines(page.words, page.index))
    return lines


def parse_fields(document: Document, *, kind: str, model: FieldModel | None = None) -> Extraction:
    """Parse the workflow's fields from a document whose pages already carry text."""
    return parse_pages(document.pages, kind=kind, model=model)


def parse_pages(
    pages: Sequence[Page | PageText], *, kind: str, model: FieldModel | None = None
) -> Extraction:
    """Parse the workflow's fields from the text of a document's pages, in order."""
    if kind not in KINDS:
        raise ExtractionError(
            "PROCESSING_ERROR", f"Unknown extractor kind {kind!r}.", step=STEP_PARSING
        )
    lines = pages_lines(pages)
    text = "\n".join(page.text for page in pages)
    options: dict[str, list[Option]] = {}
    if kind == "receipt":
        rules, options = read_receipt(lines, text)
        candidates = choose_fields(rules, options, lines, model or load_model())
    else:
        ocr_pages = {page.index for page in pages if not page.has_text_layer}
        candidates = parse_invoice(lines, text, ocr_pages=ocr_pages)
    fields = {name: _json_value(c.value) for name, c in candidates.items()}
    confidences = {
        name: round(min(1.0, max(0.0, c.confidence)), 3) for name, c in candidates.items()
    }
    evidence = {name: c.evidence for name, c in candidates.items() if c.evidence}
    _number_lines(evidence, lines)
    faint = cap_faint_pages(confidences, evidence, pages)
    overall, certainty = _overall(kind, confidences)
    summary = summarise(kind, fields, candidates)
    if faint:
        read = ", ".join(faint)
        summary += f" The PDF's text is too faint to see on the page these were read from: {read}."
    return Extraction(
        kind=kind,
        fields=fields,
        field_confidences=confidences,
        evidence=evidence,
        pages_text=[page.text for page in pages],
        confidence=overall,
        certainty=certainty,
        summary=summary,
        cues={name: c.cues for name, c in candidates.items() if c.cues},
        options=options,
    )


def _number_lines(evidence: dict[str, list[dict]], lines: list[Line]) -> None:
    """Give each evidence box the index of the line it lies on in its page's text
    (``"line"``; the page's text is those lines joined by newlines, words_to_text), so the
    review page's "Document text" can point at it: a box is the words of one line, or
    some of them, so the line holding it is the one it overlaps most."""
    by_page: dict[int, list[Line]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    for boxes in evidence.values():
        for box in boxes:
            page_lines = by_page.get(box.get("page", -1), [])
            overlaps = [_overlap(box["bbox"], line.bbox) for line in page_lines]
            if overlaps and max(overlaps) > 0:
                box["line"] = overlaps.index(max(overlaps))


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection of two boxes, by area; a box of no height or width (a line of dots
    read flat) counts by the length it shares."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width < 0 or height < 0:
        return 0.0
    return width * height or max(width, height) * 1e-9


def _json_value(value: object) -> Any:
    if isinstance(value, Decimal):
        return to_money(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _overall(kind: str, confidences: dict[str, float]) -> tuple[float, float]:
    """(confidence, certainty): the mean over required fields, and its weakest link."""
    required = [confidences.get(name, 0.0) for name in REQUIRED_FIELDS[kind]]
    optional = [c for name, c in confidences.items() if name not in REQUIRED_FIELDS[kind]]
    # Required fields count double: they decide whether a human must look.
    weights = [2.0] * len(required) + [1.0] * len(optional)
    values = required + optional
    overall = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    # Certainty about the whole document is bounded by its least certain required field.
    certainty = min(required) if required else 0.0
    return round(overall, 3), round(certainty, 3)


def summarise(kind: str, fields: dict[str, Any], candidates: dict[str, Candidate]) -> str:
    name = fields.get("merchantName") or fields.get("vendorName") or "an unknown issuer"
    date = fields.get("date") or fields.get("invoiceDate")
    total = fields.get("totalAmount")
    currency = fields.get("currency") or ""
    parts = [f"{kind.capitalize()} from {name}"]
    if kind == "invoice" and fields.get("invoiceNumber"):
        parts.append(f"number {fields['invoiceNumber']}")
    parts.append(f"dated {date}" if date else "with no readable date")
    if total is not None:
        parts.append(f"for {currency} {total:.2f}".replace("  ", " ").strip())
    else:
        parts.append("with no readable total")
    text = " ".join(parts)
    total_candidate = candidates.get("totalAmount")
    rivals: list[str] = []
    if total_candidate is not None:
        rivals = [c for c in total_candidate.cues if c.startswith(f"{RIVAL_TOTAL_CUE}:")]
        n = len(total_candidate.cues) - len(rivals)
        text += f"; total read under {n} cue{'s' if n != 1 else ''}"
    missing = [f for f in REQUIRED_FIELDS[kind] if f not in fields]
    if missing:
        text += f"; missing {', '.join(missing)}"
    text += "."
    if rivals:
        shown = ", ".join(_rival(cue) for cue in rivals)
        text += f" The document also shows a total of {shown}, which nothing printed explains."
    return text


def _rival(cue: str) -> str:
    """A rival total's cue ("totals-disagree:26.80@2") as "26.80 on page 2"."""
    amount, page = cue.split(":", 1)[1].rsplit("@", 1)
    return f"{amount} on page {page}"


def extract_document(
    data: bytes,
    *,
    kind: str,
    password: str | None = None,
    engine: OcrEngine | None = None,
    on_progress: Callable[[int, int], object] | None = None,
) -> tuple[Document, Extraction]:
    """Load, read (text layer or OCR) and parse one file, keeping all its pages and their
    images (the CLI and the benchmarks); ``on_progress`` as for ``extract_pages``."""
    mime_type, pages, extraction = _extract(
        data, digest=_whole, kind=kind, password=password, engine=engine, on_progress=on_progress
    )
    return Document(mime_type=mime_type, pages=pages), extraction


def extract_pages(
    data: bytes,
    *,
    digest: Callable[[Page], T],
    kind: str,
    password: str | None = None,
    engine: OcrEngine | None = None,
    on_progress: Callable[[int, int], object] | None = None,
) -> tuple[list[T], Extraction]:
    """Load, read and parse one file, keeping of each page only what ``digest`` makes of
    it. Each page is rendered when its turn comes, read, digested and let go before the
    next: a long PDF holds one page image at a time, not all of them (a 20-page scan took
    711-737 MB when every page was rendered before the first was read).

    ``on_progress`` is called with the pages whose text is read so far and the page
    count: as each page is loaded (a text layer is read then) and after OCR reads one."""
    _, digested, extraction = _extract(
        data, digest=digest, kind=kind, password=password, engine=engine, on_progress=on_progress
    )
    return digested, extraction


def _whole(page: Page) -> Page:
    return page


def _extract(
    data: bytes,
    *,
    digest: Callable[[Page], T],
    kind: str,
    password: str | None,
    engine: OcrEngine | None,
    on_progress: Callable[[int, int], object] | None,
) -> tuple[str, list[T], Extraction]:
    report = on_progress or (lambda done, total: None)
    digested: list[T] = []
    texts: list[PageText] = []
    read = 0
    with open_document(data, password=password) as source:
        for page in source.pages:
            read += page.has_text_layer
            report(read, source.page_count)
            if not page.has_text_layer:
                engine = engine or get_engine()
                read_page(page, engine)
                read += 1
                report(read, source.page_count)
            digested.append(digest(page))
            texts.append(
                PageText(
                    index=page.index,
                    words=page.words,
                    text=page.text,
                    has_text_layer=page.has_text_layer,
                    turn=int(page.transform.get("turn", 0)) if page.has_text_layer else 0,
                    faint=page.faint,
                    height_pt=page.height_pt,
                )
            )
            del page  # let go of its image before the next page is rendered
        if not any(text.words for text in texts):
            raise no_text_found()
        try:
            extraction = parse_pages(texts, kind=kind)
        except (ExtractionError, MemoryError):
            raise
        except Exception as exc:  # a parser bug must fail the job cleanly, not crash the worker
            raise ExtractionError(
                "PROCESSING_ERROR", "Fields could not be parsed.", step=STEP_PARSING
            ) from exc
        if source.render_box is not None and any(text.has_text_layer for text in texts):
            reader = engine or get_engine()
            if isinstance(reader, LineReader):
                _check_shown(extraction, texts, source.render_box, reader)
    return source.mime_type, digested, extraction


def _check_shown(
    extraction: Extraction, pages: list[PageText], render: RenderBox, reader: LineReader
) -> None:
    """Send to review a field whose text layer says otherwise than its page shows, or
    whose box could not be read again to tell (shown.check_text_layer), and say so in
    the summary."""
    found = check_text_layer(
        extraction.fields,
        extraction.field_confidences,
        extraction.evidence,
        pages,
        render=render,
        reader=reader,
    )
    if not found:
        return
    extraction.confidence, extraction.certainty = _overall(
        extraction.kind, extraction.field_confidences
    )
    shown = "; ".join(
        f"{name} read {_shown(extraction.fields[name])}, the page shows "
        + ", ".join(repr(box["shown"]) for box in extraction.evidence[name] if "shown" in box)
        for name in found
        if any("shown" in box for box in extraction.evidence[name])
    )
    if shown:
        extraction.summary += f" The PDF's text layer does not say what its page shows: {shown}."
    for key, said in (
        ("faint", "Its PDF text is drawn fainter than the page's other text"),
        ("small", "Its PDF text is drawn too small to read on the page"),
        ("unchecked", "The page could not be read again to check its PDF text"),
    ):
        names = [name for name in found if any(key in box for box in extraction.evidence[name])]
        if names:
            extraction.summary += f" {said}: {', '.join(names)}."


def _shown(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
