"""The OCR runtime (jobs/extraction/ppocr.py): process settings and tiled detection."""

from __future__ import annotations

import io
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openvino as ov
import pytest
from PIL import Image, ImageDraw, ImageFont

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
    ppocr._heap_trimmer()()  # a page's end trims nothing and raises nothing


class TrimmingLibc(FakeLibc):
    def __init__(self) -> None:
        super().__init__()
        self.trims: list[int] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(pad)
        return 1


def test_the_heap_is_trimmed_after_each_page(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = TrimmingLibc()
    monkeypatch.setattr(ppocr.ctypes.util, "find_library", lambda name: "libc.so.6")
    monkeypatch.setattr(ppocr.ctypes, "CDLL", lambda name: libc)
    reader = ppocr.PpOcr.__new__(ppocr.PpOcr)  # no models: only the page's end is under test
    reader._trim_heap = ppocr._heap_trimmer()
    read: list[int] = []
    reader._read = lambda image: read.append(len(libc.trims)) or ([], 0)  # type: ignore[method-assign]

    reader(page(64, 64))
    reader(page(64, 64))

    assert read == [0, 1]  # each page is read before its trim
    assert libc.trims == [0, 0]


def test_a_c_library_without_malloc_trim_is_not_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ppocr.ctypes.util, "find_library", lambda name: "libc.so.6")
    monkeypatch.setattr(ppocr.ctypes, "CDLL", lambda name: FakeLibc())

    ppocr._heap_trimmer()()  # no AttributeError


def test_the_reader_does_not_load_onnxruntime() -> None:
    # A worker would carry onnxruntime's 24 MB for nothing: OpenVINO runs the models.
    code = "import sys, jobs.extraction.ppocr; print('onnxruntime' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(ppocr.__file__).parents[2],
    ).stdout.strip()

    assert loaded == "False"


def test_boxes_come_in_rapidocrs_reading_order() -> None:
    from rapidocr_onnxruntime.main import RapidOCR

    rng = np.random.default_rng(3)
    corners = rng.integers(0, 400, (60, 1, 2)).astype(np.float32)
    # Many tops within 10 px of each other: the left-to-right swaps are exercised.
    corners[::3, 0, 1] = corners[1::3, 0, 1] + rng.integers(-9, 10, 20)
    boxes = list(np.concatenate([corners] * 4, axis=1))

    ours = ppocr._reading_order(boxes)

    theirs = RapidOCR.sorted_boxes(np.array(boxes))
    assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]


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


@pytest.mark.parametrize("tilt", [0, 4])
def test_character_boxes_have_rapidocrs_corners_on_every_line(
    monkeypatch: pytest.MonkeyPatch, tilt: int
) -> None:
    image = Image.open(io.BytesIO(render_png(receipt_pdf(), dpi=200))).convert("RGB")
    image = image.rotate(tilt, expand=True, fillcolor="white")
    rapidocr = ppocr._BOXES.CalRecBoxes()
    ours = ppocr._with_char_boxes
    compared: list[str] = []

    def both(crop: np.ndarray, box: np.ndarray, read: tuple) -> tuple:
        before = box.copy()
        found = ours(crop, box, read)
        assert np.array_equal(box, before)  # the line keeps its box
        (_, _, theirs, *_) = rapidocr([crop], [box], [read])[0]
        corners = [sorted(map(tuple, np.asarray(c).reshape(-1, 2).tolist())) for c in theirs]
        assert [sorted(map(tuple, c)) for c in found[2]] == corners, read[0]
        compared.append(read[0])
        return found

    monkeypatch.setattr(ppocr, "_with_char_boxes", both)
    ppocr.PpOcr()(np.asarray(image)[:, :, ::-1])
    assert len(compared) > 10 and any("17.90" in text for text in compared)


class FakeRecognizer:
    """Reads each crop as the text it was given, at the given score; records its calls."""

    def __init__(self, reads: dict[str, tuple[str, float]]) -> None:
        self.reads = reads
        self.calls: list[list[str]] = []

    @property
    def seen(self) -> list[str]:
        return [crop for call in self.calls for crop in call]

    def __call__(self, crops: list[str]) -> list[tuple]:
        self.calls.append(list(crops))
        return [(*self.reads[crop], []) for crop in crops]


def two_readers(
    lines: dict, head: dict, head_lines: int = 12
) -> tuple[ppocr.PpOcr, FakeRecognizer, FakeRecognizer]:
    reader = ppocr.PpOcr.__new__(ppocr.PpOcr)  # no models: only who reads what is under test
    reader._lines, reader._head = FakeRecognizer(lines), FakeRecognizer(head)
    reader._head_lines = head_lines
    return reader, reader._lines, reader._head


def test_the_headers_lines_are_read_by_the_header_recogniser_alone() -> None:
    reader, lines, head = two_readers(
        lines={"total": ("TOTAL 12.50", 0.98)},
        head={"name": ("KEDAI PAPAN SDN BHD", 0.99), "street": ("Lot 3, Jalan Pelabur", 0.97)},
        head_lines=2,
    )

    reads = reader._recognize(["name", "street", "total"])  # type: ignore[list-item]

    assert [read[0] for read in reads] == [
        "KEDAI PAPAN SDN BHD",
        "Lot 3, Jalan Pelabur",
        "TOTAL 12.50",
    ]
    assert head.seen == ["name", "street"]
    assert lines.seen == ["total"]


@pytest.mark.parametrize(
    ("head_read", "line_read"),
    [
        ("Date: 27/03/2018 12:16", "Date:27/03/2018 12:16"),
        ("Cash Inv No.:7807F716 12:45", "Cash Inv No.:7807F716 12:45"),
        ("TOTAL 12.50", "TOTAL 12.50"),
        ("RM14.20s", "RM14.20 S"),
        ("DPT.05", "DP1.05"),
        ("27032018 No. CS-20242", "27/03/2018 No.CS-20242"),
        ("RECEIPT #:G300638502 DATE:21705/2017", "RECEIPT #:CS00030502 DATE:21/05/2017"),
    ],
)
def test_a_header_line_read_as_holding_a_date_time_or_amount_takes_the_line_recognisers_read(
    head_read: str, line_read: str
) -> None:
    reader, lines, head = two_readers(
        lines={"line": (line_read, 0.97)},
        head={"name": ("BEMED SDN BHD", 0.99), "line": (head_read, 0.99)},
    )

    reads = reader._recognize(["name", "line"])  # type: ignore[list-item]

    assert [read[0] for read in reads] == ["BEMED SDN BHD", line_read]
    assert lines.seen == ["line"]


@pytest.mark.parametrize("head_read", ["(162761-M)", "GSTID:002139201536", "TEL:012-9719498"])
def test_registration_and_phone_numbers_are_not_taken_for_dates(head_read: str) -> None:
    reader, lines, _ = two_readers(lines={}, head={"line": (head_read, 0.99)})

    assert [read[0] for read in reader._recognize(["line"])] == [head_read]  # type: ignore[list-item]
    assert lines.seen == []


def test_a_header_line_whose_date_only_the_header_recogniser_read_takes_that_read() -> None:
    reader, _, _ = two_readers(
        lines={"line": ("RECEIPT#:G300638502DATE:21705/2017", 0.9)},
        head={"line": ("RECEIPT #:CS00030502 DATE:21/05/2017", 0.96)},
    )

    reads = reader._recognize(["line"])  # type: ignore[list-item]

    assert reads[0][0] == "RECEIPT #:CS00030502 DATE:21/05/2017"


@pytest.mark.parametrize(
    ("line_read", "head_read", "kept"),
    [
        ("Date :02A01/611:41:47AM", ": 02/01/1611:41:47AM", ": 02/01/1611:41:47AM"),
        ("Date: 13/01201", "Date: 13/01/2018", "Date: 13/01/2018"),
        ("20/3a0/201706:06:50", "20/Jan/2017 08:06:50", "20/Jan/2017 08:06:50"),
        ("Date :02A01/611:41:47AM", ": 02A01/1611:41", "Date :02A01/611:41:47AM"),
    ],
)
def test_a_line_whose_date_was_lost_takes_the_header_recognisers_read_if_it_has_one(
    line_read: str, head_read: str, kept: str
) -> None:
    lines = {f"item {n}": (f"ITEM {n} 1.00", 0.99) for n in range(14)} | {"date": (line_read, 0.9)}
    reader, _, head = two_readers(lines=lines, head={"date": (head_read, 0.95)}, head_lines=0)
    crops = [*(f"item {n}" for n in range(14)), "date"]  # far below the header

    reads = reader._recognize(crops)  # type: ignore[arg-type]

    assert reads[-1][0] == kept
    assert head.seen == ["date"]


def test_a_line_with_a_date_that_reads_is_not_read_again() -> None:
    reader, _, head = two_readers(
        lines={"a": ("x", 0.9)} | {"date": ("Date: 27/03/2018 12:16", 0.9)},
        head={"a": ("x", 0.9)},
        head_lines=1,
    )

    reads = reader._recognize(["a", "date"])  # type: ignore[list-item]

    assert reads[1][0] == "Date: 27/03/2018 12:16"
    assert "date" not in head.seen


def test_an_unsure_header_read_is_read_again_by_the_line_recogniser() -> None:
    reader, lines, _ = two_readers(lines={"a": ("KEDAI", 0.8)}, head={"a": ("KFDAl", 0.31)})

    assert [read[0] for read in reader._recognize(["a"])] == ["KEDAI"]  # type: ignore[list-item]
    assert lines.seen == ["a"]


def test_without_a_header_recogniser_the_line_recogniser_reads_every_line() -> None:
    reader, lines, _ = two_readers(lines={"a": ("TAX INVOICE", 0.99)}, head={})
    reader._head = None

    assert [read[0] for read in reader._recognize(["a"])] == ["TAX INVOICE"]  # type: ignore[list-item]
    assert lines.seen == ["a"]


def test_turning_the_header_recogniser_off_does_not_load_its_model() -> None:
    assert ppocr.PpOcr(head_lines=0)._head is None


def text_crop(text: str) -> np.ndarray:
    """A line of dark text on white, as the detector would crop it (BGR)."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    width = int(font.getlength(text)) + 16
    image = Image.new("RGB", (width, 40), "white")
    ImageDraw.Draw(image).text((8, 4), text, fill="black", font=font)
    return np.asarray(image)[:, :, ::-1].copy()


@pytest.mark.parametrize(
    ("model_path", "size"), [(lambda: ppocr.REC_MODEL, 6_000), (ppocr.head_model, 18_000)]
)
def test_each_recognisers_output_is_cut_to_ascii_characters(model_path, size: int) -> None:
    model = ov.Core().read_model(model_path())
    characters = model.get_rt_info(["framework", "character"]).astype(str).splitlines()

    kept = ppocr._keep_ascii(model, characters)

    assert len(characters) > size
    assert set("AZaz09,.-/&()#") <= set(kept)
    assert {"京", "é"} <= set(characters) and not {"京", "é"} & set(kept)
    assert all(" " < unicodedata.normalize("NFKC", c) <= "~" for c in kept)
    # The blank, the kept characters and the space, in the decoder's order.
    assert model.output(0).get_partial_shape()[2].get_length() == len(kept) + 2


def test_both_recognisers_of_the_reader_read_ascii_alone() -> None:
    reader = ppocr.PpOcr()

    for recognizer in (reader._lines, reader._head):
        assert "A" in recognizer._ctc.character
        assert not {"京", "é"} & set(recognizer._ctc.character)


def test_a_batch_read_one_row_at_a_time_reads_as_the_whole_batch() -> None:
    crops = [text_crop(t) for t in ("JALAN BESAR", "Lot 3, Jalan Pelabur 23/1,", "TAX INVOICE")]
    config = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}
    whole, apart = (
        ppocr._Recognizer(
            ov.Core(), ppocr.head_model(), config, batch=6, min_width=128, rows_apart=rows_apart
        )
        for rows_apart in (False, True)
    )

    reads = [read[0] for read in whole(crops)]

    assert [read[0] for read in apart(crops)] == reads
    assert reads[0] == "JALAN BESAR"


def test_a_missing_header_model_says_how_to_install_it_or_turn_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    find_spec = ppocr.importlib.util.find_spec
    monkeypatch.setattr(
        ppocr.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "rapidocr" else find_spec(name, *args),
    )

    with pytest.raises(FileNotFoundError, match="STEVE_OCR_HEAD_LINES=0"):
        ppocr.PpOcr()
    assert ppocr.PpOcr(head_lines=0)._head is None


def test_lines_whose_date_was_lost_are_read_apart_from_the_headers_lines() -> None:
    # A batch's lines are padded to its widest: a date line beside the name would change
    # how the name is read.
    reader, _, head = two_readers(
        lines={"name": ("KEDAIPAPAN", 0.9), "date": ("Date :02A01/611:41:47AM", 0.9)},
        head={"name": ("KEDAI PAPAN", 0.99), "date": (": 02/01/1611:41:47AM", 0.95)},
        head_lines=1,
    )

    reader._recognize(["name", "date"])  # type: ignore[list-item]

    assert head.calls == [["name"], ["date"]]


def test_a_negative_number_of_header_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="STEVE_OCR_HEAD_LINES must be 0 or more, not -3"):
        ppocr.PpOcr(head_lines=-3)
