"""``manage.py extract FILE… --kind receipt|invoice [--json] [--password P]``.

Runs the same code path as the pipeline (``extract_document``) and needs no database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.extraction import REQUIRED_FIELDS, ExtractionError, extract_document, get_engine


class Command(BaseCommand):
    help = "Extract fields from receipt or invoice files and print them with confidences."
    requires_system_checks: list[str] = []  # no database or app checks needed
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        # A document kind, not a workflow's slug (the command needs no database).
        parser.add_argument(
            "--kind", choices=sorted(REQUIRED_FIELDS), default="receipt", help="document kind"
        )
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
        parser.add_argument("--password", default=None, help="password of encrypted PDFs")
        parser.add_argument("--engine", default=None, help="OCR engine: rapidocr or tesseract")

    def handle(self, *args: Any, **options: Any) -> None:
        engine = get_engine(options["engine"])
        results = [
            self._extract(path, options["kind"], options["password"], engine)
            for path in options["files"]
        ]
        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2, ensure_ascii=False))
        else:
            for result in results:
                self._print_human(result)
        failed = sum(1 for r in results if "error" in r)
        if failed:
            raise CommandError(f"{failed} of {len(results)} file(s) could not be extracted")

    def _extract(self, path: Path, kind: str, password: str | None, engine: Any) -> dict:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return {"file": str(path), "error": {"code": "UNREADABLE", "message": str(exc)}}
        try:
            _, extraction = extract_document(data, kind=kind, password=password, engine=engine)
        except ExtractionError as exc:
            error = {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
            return {"file": str(path), "error": error | {"step": exc.step}}
        return {
            "file": str(path),
            "kind": extraction.kind,
            "fields": extraction.fields,
            "fieldConfidences": extraction.field_confidences,
            "confidence": extraction.confidence,
            "certainty": extraction.certainty,
            "summary": extraction.summary,
            "evidence": extraction.evidence,
        }

    def _print_human(self, result: dict) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(result["file"]))
        if "error" in result:
            error = result["error"]
            self.stdout.write(self.style.ERROR(f"  {error['code']}: {error['message']}"))
            return
        for name, value in result["fields"].items():
            conf = result["fieldConfidences"].get(name, 0.0)
            shown = json.dumps(value, ensure_ascii=False)
            if len(shown) > 70:
                shown = shown[:67] + "..."
            self.stdout.write(f"  {name:16} {conf:4.2f}  {shown}")
        self.stdout.write(f"  {'confidence':16} {result['confidence']:4.2f}")
        self.stdout.write(f"  {'certainty':16} {result['certainty']:4.2f}")
        self.stdout.write(f"  {result['summary']}")
