"""The OCR runtime (jobs/extraction/ppocr.py): process settings and tiled detection."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from jobs.extraction import ppocr
from tests.jobs.fixtures_docs import receipt_pdf, render_png


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


class EchoDetector:
    """Stands in for the detector's request: its map is the input's first channel, so a
    stitched map equals the whole page's exactly; it records every input's shape."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []
        self._out: np.ndarray | None = None

    def infer(self, inputs: list[np.ndarray]) -> None:
        self.shapes.append(inputs[0].shape[2:])
        self._out = inputs[0][:, :1].copy()

    def get_output_tensor(self, index: int) -> SimpleNamespace:
        return SimpleNamespace(data=self._out)


def echo_reader() -> tuple[ppocr.PpOcr, EchoDetector]:
    reader = ppocr.PpOcr.__new__(ppocr.PpOcr)  # no models: only the tiling is under test
    reader._det_request = EchoDetector()
    return reader, reader._det_request


def page(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(2016, 1120), (1120, 2016), (3200, 1024)])
def test_a_large_page_is_detected_in_strips_that_add_up_to_the_whole_map(
    height: int, width: int
) -> None:
    reader, detector = echo_reader()
    image = page(height, width)

    pred = reader._probabilities(image)

    assert pred.shape == (1, 1, height, width)
    assert np.array_equal(pred, ppocr._normalize(image)[:, :1])
    assert len(detector.shapes) > 1
    # Each strip holds at most the tile and its two margins, cut along the long side.
    long_side = 0 if height >= width else 1
    for shape in detector.shapes:
        assert shape[1 - long_side] == min(height, width)
        assert shape[0] * shape[1] <= ppocr.DET_TILE_PIXELS + 2 * ppocr.DET_TILE_MARGIN * min(
            height, width
        )
        assert shape[long_side] % 32 == 0  # the network needs multiples of 32


def test_a_page_within_the_tile_is_detected_whole() -> None:
    reader, detector = echo_reader()

    reader._probabilities(page(1216, 800))

    assert detector.shapes == [(1216, 800)]


def test_a_large_receipt_reads_the_same_in_strips_as_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A receipt rendered at 400 dpi (1260 x 1733): read in three strips of the detector.
    image = Image.open(io.BytesIO(render_png(receipt_pdf(), dpi=400))).convert("RGB")
    bgr = np.asarray(image)[:, :, ::-1]
    reader = ppocr.PpOcr()
    strips = [line[1] for line in reader(bgr)]
    monkeypatch.setattr(ppocr, "DET_TILE_PIXELS", 10**9)
    whole = [line[1] for line in reader(bgr)]

    assert sorted(strips) == sorted(whole)
    assert any("17.90" in text for text in strips)
