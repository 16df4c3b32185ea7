"""Document text extraction and field parsing for receipts and invoices.

Pure Python (no Django): the pipeline, the CLI and the benchmark all call
``extract_document`` (or ``extract_document_isolated`` for untrusted input).
"""

from .api import Extraction, extract_document, parse_fields
from .document import Document, Page, Word, load_document, sniff_mime
from .errors import ExtractionError, ReadingKilled
from .isolated import extract_document_isolated
from .ocr import OcrEngine, get_engine, read_text
from .schemas import OUTPUT_SCHEMAS, REQUIRED_FIELDS

__all__ = [
    "OUTPUT_SCHEMAS",
    "REQUIRED_FIELDS",
    "Document",
    "Extraction",
    "ExtractionError",
    "OcrEngine",
    "Page",
    "ReadingKilled",
    "Word",
    "extract_document",
    "extract_document_isolated",
    "get_engine",
    "load_document",
    "parse_fields",
    "read_text",
    "sniff_mime",
]
