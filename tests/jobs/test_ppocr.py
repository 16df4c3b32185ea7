"""The OCR runtime's process settings (jobs/extraction/ppocr.py)."""

from __future__ import annotations

import pytest

from jobs.extraction import ppocr


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_building_the_reader_fixes_glibcs_mmap_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(ppocr.ctypes.util, "find_library", lambda name: "libc.so.6")
    monkeypatch.setattr(ppocr.ctypes, "CDLL", lambda name: libc)

    ppocr._fix_mmap_threshold()

    # -3 is glibc's M_MMAP_THRESHOLD; a fixed value also stops it from rising.
    assert libc.calls == [(-3, 4 * 1024 * 1024)]


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ppocr.ctypes.util, "find_library", lambda name: "libc.so")
    monkeypatch.setattr(ppocr.ctypes, "CDLL", lambda name: object())

    ppocr._fix_mmap_threshold()  # no AttributeError


def test_no_c_library_found_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_cdll(name: str) -> None:
        raise AssertionError("nothing to load")

    monkeypatch.setattr(ppocr.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(ppocr.ctypes, "CDLL", no_cdll)

    ppocr._fix_mmap_threshold()
