"""The document's text as Steve read it (Submission.pages_text: OCR or a PDF's text layer,
one string per page, lines in reading order), for the review page's "Document text":
a screen reader has no other way into the document, which the viewer shows as an image.

Nothing is read again here: the page shows what extraction stored, split by file with
each file's page count (SubmissionFile.page_count, set as it was read), and says where
each field's value was read (its evidence box's file, page and, when extraction recorded
it, line).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from submissions.models import Submission, SubmissionFile

# Lines drawn on the page, over all files and pages: a 30-page statement would otherwise
# be thousands of list items in every page load. The rest are counted, not drawn.
MAX_TEXT_LINES = 400


@dataclass
class TextLine:
    text: str
    anchor: str
    # Labels of the fields read on this line, so the line says what it is evidence of.
    fields: list[str] = field(default_factory=list)


@dataclass
class TextPage:
    anchor: str
    title: str  # "Receipt 1, page 2", or "Page 2" when the files are not told apart
    lines: list[TextLine]
    line_count: int  # all the page's lines, drawn or not


@dataclass(frozen=True)
class ReadAt:
    """Where one evidence box of a field lies in the document's text."""

    anchor: str  # the line's, or its page's when the line is unknown or not drawn
    where: str  # "page 1, line 4"
    line_shown: bool


@dataclass
class DocumentText:
    pages: list[TextPage]
    line_count: int
    shown: int

    @property
    def more(self) -> int:
        return self.line_count - self.shown


def _page_keys(
    pages_text: Sequence[str], files: Sequence[SubmissionFile]
) -> list[tuple[int | None, int, str]]:
    """(file index, page index in its file, title) of each stored page. pages_text holds
    the pages of every file one after the other (jobs.pipeline.Merged); each file's
    page_count says how many are its. When the counts do not add up (a submission read
    before they were kept), pages are only numbered, never given to the wrong file."""
    counts = [f.page_count for f in files]
    if len(files) == 1:
        counts = [len(pages_text)]
    if None in counts or sum(c or 0 for c in counts) != len(pages_text):
        return [(None, n, f"Page {n + 1}") for n in range(len(pages_text))]
    keys: list[tuple[int | None, int, str]] = []
    for file, count in zip(files, counts, strict=True):
        name = f"{(file.label or 'file').capitalize()} {file.file_index + 1}"
        for n in range(count or 0):
            title = f"{name}, page {n + 1}" if len(files) > 1 else f"Page {n + 1}"
            keys.append((file.file_index, n, title))
    return keys


def _anchor(file_index: int | None, page: int, line: int | None = None) -> str:
    base = f"text-{'x' if file_index is None else file_index}-{page}"
    return base if line is None else f"{base}-{line}"


def document_text(submission: Submission, files: Sequence[SubmissionFile]) -> DocumentText:
    pages_text = [p if isinstance(p, str) else "" for p in submission.pages_text or []]
    pages: list[TextPage] = []
    shown = total = 0
    for (file_index, n, title), text in zip(_page_keys(pages_text, files), pages_text, strict=True):
        # Split as extraction joined them ("\n"), so line numbers are the evidence's.
        lines = text.split("\n") if text.strip() else []
        drawn = [
            TextLine(text=line, anchor=_anchor(file_index, n, i))
            for i, line in enumerate(lines[: max(0, MAX_TEXT_LINES - shown)])
        ]
        pages.append(TextPage(_anchor(file_index, n), title, drawn, len(lines)))
        shown += len(drawn)
        total += len(lines)
    return DocumentText(pages=pages, line_count=total, shown=shown)


def read_at(
    text: DocumentText, boxes: list[dict[str, Any]], *, label: str, several_files: bool
) -> list[ReadAt]:
    """Where a field's evidence boxes lie in the text, each once; marks the lines drawn
    with the field's label. A box whose page is not in the stored text is left out."""
    by_anchor = {p.anchor: p for p in text.pages}
    found: list[ReadAt] = []
    for box in boxes:
        file_index, page = box.get("file", 0), box.get("page", 0)
        text_page = by_anchor.get(_anchor(file_index, page)) or (
            None if several_files else by_anchor.get(_anchor(None, page))
        )
        if text_page is None:
            continue
        where = text_page.title[0].lower() + text_page.title[1:]
        line = box.get("line")
        if not isinstance(line, int) or not 0 <= line < text_page.line_count:
            spot = ReadAt(text_page.anchor, where, line_shown=False)
        elif line < len(text_page.lines):
            if label not in text_page.lines[line].fields:
                text_page.lines[line].fields.append(label)
            spot = ReadAt(text_page.lines[line].anchor, f"{where}, line {line + 1}", True)
        else:
            spot = ReadAt(text_page.anchor, f"{where}, line {line + 1} (not shown)", False)
        if spot not in found:
            found.append(spot)
    return found
