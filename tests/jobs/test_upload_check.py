"""The check an upload gets as it is stored (jobs.extraction.readable): bounded in time
and memory, and silent, never a refusal, when it cannot tell."""

import time

from jobs.extraction import readable
from jobs.extraction.isolated import run_bounded
from tests.jobs.fixtures_docs import malformed_pdf, receipt_pdf


def test_a_check_past_its_time_answers_nothing_at_its_deadline():
    started = time.monotonic()
    assert run_bounded(lambda: time.sleep(30), seconds=0.5, memory_mb=64) is None
    assert time.monotonic() - started < 3


def test_a_check_past_its_memory_answers_nothing():
    assert run_bounded(lambda: len(bytearray(600 * 2**20)), seconds=10, memory_mb=128) is None


def test_a_check_within_its_limits_answers_what_it_found():
    assert run_bounded(
        lambda: readable.pdf_structure(receipt_pdf()), seconds=10, memory_mb=512
    ) == (readable.OPENS, 1)


def test_a_pdf_the_check_could_not_finish_is_taken_for_processing_to_judge(monkeypatch):
    assert readable.unreadable(malformed_pdf(), "application/pdf") is not None
    monkeypatch.setattr(readable, "PDF_CHECK_SECONDS", 0.0)
    assert readable.unreadable(malformed_pdf(), "application/pdf") is None
