"""PP-OCR text detection and recognition on OpenVINO.

The PP-OCRv4 models are the ONNX files bundled with rapidocr-onnxruntime; its pre- and
post-processing (DB box extraction, CTC decoding, character boxes, whose corners are
not sorted here: _with_char_boxes) is reused, loaded from its files without the
package, whose import loads onnxruntime. The
header's lines are read by PP-OCRv6 small, whose ONNX file comes from the rapidocr wheel
(installed without its dependencies: only the file is used). Only the runtime differs:
OpenVINO runs these models about 40 % faster than onnxruntime on one x86 core with
identical output (float32 is forced: the bfloat16 that OpenVINO picks by itself on CPUs
that have it is faster still but loses field accuracy). The steps follow
RapidOCR's own pipeline (rapidocr_onnxruntime/main.py) without its angle classifier.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import math
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import openvino as ov

from .values import parse_dates

_SPEC = importlib.util.find_spec("rapidocr_onnxruntime")  # finds it, runs none of it
assert _SPEC is not None and _SPEC.origin is not None
_RAPIDOCR_DIR = Path(_SPEC.origin).parent
MODEL_DIR = _RAPIDOCR_DIR / "models"


def _rapidocr_module(relative: str) -> ModuleType:
    """One of rapidocr-onnxruntime's helper modules, which import only numpy, OpenCV,
    pyclipper and shapely, run from its file: importing it from its package would run the
    package's __init__, which loads onnxruntime (24 MB resident in every worker)."""
    name = "_rapidocr_" + relative.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, _RAPIDOCR_DIR / relative)
    assert spec is not None and spec.loader is not None, relative
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_DET = _rapidocr_module("ch_ppocr_det/utils.py")
_REC = _rapidocr_module("ch_ppocr_rec/utils.py")
_BOXES = _rapidocr_module("cal_rec_boxes/main.py")
_IMAGE = _rapidocr_module("utils/process_img.py")
DET_MODEL = MODEL_DIR / "ch_PP-OCRv4_det_infer.onnx"
REC_MODEL = MODEL_DIR / "ch_PP-OCRv4_rec_infer.onnx"

# RapidOCR's defaults (its config.yaml), which the extraction benchmark was tuned with.
MAX_SIDE_LEN = 2000
MIN_SIDE_LEN = 30
MIN_HEIGHT = 30
WIDTH_HEIGHT_RATIO = 8
DET_LIMIT_SIDE_LEN = 736
REC_HEIGHT = 48
TEXT_SCORE = 0.5

# Lines are read in batches of similar width, each padded to the widest in its batch and
# to at least REC_MIN_WIDTH. RapidOCR pads to 320 px; most receipt lines are much shorter
# (median 170 px at 48 px high), and 128 cuts recognition time by ~20 % with field
# accuracy on sroie-dev unchanged or better. Batches of one avoid padding altogether but
# were slower and less accurate there.
REC_MIN_WIDTH = 128
REC_BATCH = 6

# The first lines of a page (name, address, registration, phone) are read by PP-OCRv6
# small, which reads them better than PP-OCRv4 (spaces, look-alike letters: "Shah Alam"
# for "ShahiAlain"; the cross-set figures are in bench/RESULTS.md) but runs dates into
# times ("2016-07-3113:49:10") and drops their separators: a header line it reads as
# holding a date, a time or an amount is read by PP-OCRv4 too, whose read is kept. Every
# other line is read by PP-OCRv4 alone (its read of the header cost ~0.2 CPU-s a page).
# PP-OCRv6's lines are padded in batches of six as PP-OCRv4's are (unpadded, it read
# names and addresses worse) but inferred one at a time, and its output layer is cut to
# ASCII: the two kept its cost in peak memory to +63 MB from +237 MB (20 sroie-test
# pages; the reads are the same). PP-OCRv4's output layer is cut to ASCII too: on 1,023
# lines of 20 sroie-test pages two read differently (a middle dot read as "-", a line of
# Chinese as "##"), for 0.92x its CPU and ~25 MB less peak memory over 30 receipts
# (~100 MB over a whole set); the cross-set figures are in bench/RESULTS.md.
_DATE_OR_TIME_SHAPE = r"\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}:\d{2}"
# Any line that looks like it holds a date or time but holds no date PP-OCRv4 could read
# ("Date :02A01/611:41:47AM") is read by PP-OCRv6 small too, whose read is taken when a
# date can be read from it ("02/01/1611:41:47AM").
_DATE_OR_TIME = re.compile(_DATE_OR_TIME_SHAPE + r"|\bDATE\b", re.I)
# PP-OCRv6 small drops a date's separators ("27032018") or misreads one ("21705/2017"):
# a header line it reads with a DATE label or a run of digits that is a day, a month and
# a year is read by PP-OCRv4 too.
_DAY_MONTH_YEAR = r"(?<!\d)(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)?\d{2}(?!\d)"
# An amount may run into its tax code ("RM14.20s") or lose its first digit ("DPT.05").
_AMOUNT = r"\d\.\d{2}(?!\d)|[.,]\d{2}(?!\d)\s*\S?\s*$"
_NEEDS_LINE_READ = re.compile("|".join((_DATE_OR_TIME.pattern, _AMOUNT, _DAY_MONTH_YEAR)), re.I)

# The detector's activations grow with its input (+413 MB for a 2016 x 1120 page), and
# they set the worker's peak memory. A larger page is read in strips along its long side,
# each DET_TILE_PIXELS at most with DET_TILE_MARGIN rows of context on either side that
# are read but not kept. The strips' maps are not identical to the whole page's (the
# detector's squeeze-and-excite blocks average over their whole input, so no margin makes
# them so): 98 % of boxes were the same within 3 px on 60 pages; field accuracy over both
# sets is in bench/RESULTS.md. Strips of 500,000 pixels took ~170 MB more off the peak
# over a whole set, but their reads put the calibration's >= 0.9 bucket under 99 % right
# in both cross-set directions (bench/RESULTS.md, 2026-12-04 19:00 UTC).
DET_TILE_PIXELS = 1_000_000
DET_TILE_MARGIN = 64

OcrLine = tuple[list[list[float]], str, float, list[list[list[float]]]]

# glibc serves a freed block up to 32 MB from the heap next time (its mmap threshold
# rises to the largest block freed), so OpenVINO's per-shape activation buffers pile up
# in the heap receipt after receipt. A fixed threshold maps every block over 4 MB on its
# own and returns it on free: peak RSS over 12 sroie-test receipts 827 MB instead of
# 906-936 MB, for 2-5 % more CPU (1 MB: 820 MB, +11 % CPU).
MMAP_THRESHOLD = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (it has mallopt), else None."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


def _fix_mmap_threshold() -> None:
    """Set glibc's mmap threshold for the process; other C libraries are left alone."""
    if (libc := _glibc()) is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _heap_trimmer() -> Callable[[], object]:
    """A call that hands the heap's free pages back to the system (glibc's malloc_trim);
    with another C library, a call that does nothing."""
    libc = _glibc()
    trim = getattr(libc, "malloc_trim", None)
    return (lambda: trim(0)) if trim is not None else (lambda: None)


def head_model() -> Path:
    """PP-OCRv6 small's recogniser, from the rapidocr wheel (requirements-models.txt)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "models" / "PP-OCRv6_rec_small.onnx"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "PP-OCRv6 small's model is missing: install requirements-models.txt (scripts/setup "
        "does), or set STEVE_OCR_HEAD_LINES=0 to read every line with PP-OCRv4"
    )


class PpOcr:
    """Detect text lines on a BGR image and read each one."""

    def __init__(self, threads: int = 1, head_lines: int = 12) -> None:
        if head_lines < 0:  # a slice from the end would re-read all but the last lines
            raise ValueError(f"STEVE_OCR_HEAD_LINES must be 0 or more, not {head_lines}")
        _fix_mmap_threshold()
        core = ov.Core()
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            # Nearly every page and line batch has a new input shape, so OpenVINO's cache
            # of per-shape kernels only grows: peak RSS over sroie-dev was 2.2 GB with it
            # and 1.2 GB without (as with onnxruntime), for ~3 % more CPU.
            "CPU_RUNTIME_CACHE_CAPACITY": 0,
            # OpenVINO pins its inference thread to a core by default, and every process
            # picks the same one: two workers side by side then share one core.
            "ENABLE_CPU_PINNING": False,
        }
        self._det = core.compile_model(core.read_model(DET_MODEL), "CPU", config)
        self._det_request = self._det.create_infer_request()
        self._lines = _Recognizer(core, REC_MODEL, config, batch=REC_BATCH, min_width=REC_MIN_WIDTH)
        self._head_lines = head_lines
        self._head = (
            _Recognizer(
                core,
                head_model(),
                config,
                batch=REC_BATCH,
                min_width=REC_MIN_WIDTH,
                rows_apart=True,
            )
            if head_lines
            else None
        )
        self._det_resize = _DET.DetPreProcess(DET_LIMIT_SIDE_LEN, "min")
        self._db = _DET.DBPostProcess(
            thresh=0.3,
            box_thresh=0.5,
            max_candidates=1000,
            unclip_ratio=1.6,
            use_dilation=True,
            score_mode="fast",
        )
        self._trim_heap = _heap_trimmer()

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        """Lines on ``image`` (BGR): box, text, score and one box per character, in
        ``image`` coordinates; lines scoring below TEXT_SCORE are dropped."""
        return self.find_and_read(image)[0]

    def find_and_read(self, image: np.ndarray) -> tuple[list[OcrLine], int]:
        """The lines on ``image`` as __call__ gives them, and how many text boxes the
        detector found, those whose reads were dropped included."""
        lines, found = self._read(image)
        # The page's buffers are free now, but glibc keeps most of them in its heap, and
        # the next page's differently sized buffers land beside them.
        self._trim_heap()
        return lines, found

    def read_lines(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Read each of ``crops`` (BGR), one line of text each, with the line recogniser
        alone: no detection, whose input is scaled up to 736 pixels across a small
        image's short side, for a line already found."""
        return [(read[0], float(read[1])) for read in self._lines(crops)]

    def _read(self, image: np.ndarray) -> tuple[list[OcrLine], int]:
        raw_h, raw_w = image.shape[:2]
        ratio_h = ratio_w = 1.0
        if max(raw_h, raw_w) > MAX_SIDE_LEN:
            image, ratio_h, ratio_w = _IMAGE.reduce_max_side(image, MAX_SIDE_LEN)
        if min(image.shape[:2]) < MIN_SIDE_LEN:
            image, ratio_h, ratio_w = _IMAGE.increase_min_side(image, MIN_SIDE_LEN)
        height, width = image.shape[:2]
        top = 0
        if height <= MIN_HEIGHT or width / height > WIDTH_HEIGHT_RATIO:
            top = abs(max(int(width / WIDTH_HEIGHT_RATIO), MIN_HEIGHT) * 2 - height) // 2
            image = _IMAGE.add_round_letterbox(image, (top, top, 0, 0))

        boxes = self._detect(image)
        if not boxes:
            return [], 0
        crops = [_crop(image, box) for box in boxes]
        reads = self._recognize(crops)
        reads = [
            _with_char_boxes(crop, box, read)
            for crop, box, read in zip(crops, boxes, reads, strict=True)
        ]

        def to_original(points: object) -> list[list[float]]:
            array = np.asarray(points, dtype=np.float32).reshape(-1, 2)
            array[:, 1] -= top
            array *= (ratio_w, ratio_h)
            array = np.clip(array, 0, (raw_w, raw_h))
            return array.tolist()

        lines: list[OcrLine] = []
        for box, (text, score, char_boxes, *_) in zip(boxes, reads, strict=True):
            if score < TEXT_SCORE:
                continue
            chars = [np.asarray(to_original(c), dtype=np.int32).tolist() for c in char_boxes]
            lines.append((to_original(box), text, score, chars))
        return lines, len(boxes)

    def _detect(self, image: np.ndarray) -> list[np.ndarray]:
        resized = self._det_resize.resize(image)
        if resized is None:
            return []
        found, _ = self._db(self._probabilities(resized), image.shape[:2])
        height, width = image.shape[:2]
        boxes = []
        for points in found:
            box = _clockwise(points)
            box[:, 0] = np.clip(box[:, 0], 0, width - 1).astype(np.int32)
            box[:, 1] = np.clip(box[:, 1], 0, height - 1).astype(np.int32)
            if np.linalg.norm(box[0] - box[1]) >= 4 and np.linalg.norm(box[0] - box[3]) >= 4:
                boxes.append(box)
        return _reading_order(boxes)

    def _probabilities(self, image: np.ndarray) -> np.ndarray:
        """The detector's text map of ``image`` (1 x 1 x height x width), read in
        strips along the long side when the page is large."""
        axis = 0 if image.shape[0] >= image.shape[1] else 1
        length, across = image.shape[axis], image.shape[1 - axis]
        room = DET_TILE_PIXELS // across - 2 * DET_TILE_MARGIN
        count = 1 if length * across <= DET_TILE_PIXELS else math.ceil(length / max(32, room))
        step = math.ceil(length / count / 32) * 32
        pred = np.empty((1, 1, *image.shape[:2]), dtype=np.float32)
        for first in range(0, length, step):
            last = min(length, first + step)
            start, end = max(0, first - DET_TILE_MARGIN), min(length, last + DET_TILE_MARGIN)
            strip = np.ascontiguousarray(_along(image, axis, start, end))
            self._det_request.infer([_normalize(strip)])
            read = self._det_request.get_output_tensor(0).data
            _along(pred, axis + 2, first, last)[...] = _along(
                read, axis + 2, first - start, last - start
            )
        return pred

    def _recognize(self, crops: list[np.ndarray]) -> list[tuple]:
        """Read the header's lines (boxes come top to bottom) with the header recogniser,
        and with the line recogniser every other line and any header line the header
        recogniser read as holding a date, a time or an amount. A line whose line read
        holds no date takes the header recogniser's read if a date reads from that."""
        if self._head is None:
            return self._lines(crops)
        head = dict(enumerate(self._head(crops[: self._head_lines])))
        reads: list[tuple] = [()] * len(crops)
        for i, read in head.items():
            if read[1] >= TEXT_SCORE and not _NEEDS_LINE_READ.search(read[0]):
                reads[i] = read
        rest = [i for i, read in enumerate(reads) if not read]
        for i, read in zip(rest, self._lines([crops[i] for i in rest]), strict=True):
            reads[i] = read
        # Below the header, only lines that look dated are read again, apart: a batch's
        # lines are padded to its widest, so its other lines read differently beside them.
        lost = [i for i in rest if i not in head and _lost_date(reads[i][0])]
        head.update(zip(lost, self._head([crops[i] for i in lost]), strict=True))
        for i in rest:
            again = head.get(i)
            if again and _sure_of_a_date(again) and not parse_dates(reads[i][0]):
                reads[i] = again
        return reads


class _Recognizer:
    """One PP-OCR recognition model, its output layer cut to ASCII (_keep_ascii), and its
    CTC decoder."""

    def __init__(
        self,
        core: ov.Core,
        path: Path,
        config: dict,
        *,
        batch: int,
        min_width: int,
        rows_apart: bool = False,
    ) -> None:
        model = core.read_model(path)
        characters = model.get_rt_info(["framework", "character"]).astype(str).splitlines()
        characters = _keep_ascii(model, characters)
        self._request = core.compile_model(model, "CPU", config).create_infer_request()
        self._ctc = _REC.CTCLabelDecode(character=characters)
        self._batch = batch
        self._min_width = min_width
        self._rows_apart = rows_apart

    def __call__(self, crops: list[np.ndarray]) -> list[tuple]:
        """Read the lines in batches of similar width (each padded to the widest)."""
        ratios = [crop.shape[1] / crop.shape[0] for crop in crops]
        order = np.argsort(np.array(ratios))
        reads: list[tuple] = [()] * len(crops)
        for start in range(0, len(crops), self._batch):
            chunk = order[start : start + self._batch]
            max_wh_ratio = max(self._min_width / REC_HEIGHT, *(ratios[i] for i in chunk))
            input_w = int(REC_HEIGHT * max_wh_ratio)
            batch = np.zeros((len(chunk), 3, REC_HEIGHT, input_w), dtype=np.float32)
            for row, i in enumerate(chunk):
                resized_w = max(1, min(math.ceil(REC_HEIGHT * ratios[i]), input_w))
                resized = cv2.resize(crops[i], (resized_w, REC_HEIGHT))
                batch[row, :, :, :resized_w] = _normalize(resized)[0]
            preds = self._infer(batch)
            wh_ratios = [ratios[i] for i in chunk]
            decoded = self._ctc(preds, True, wh_ratio_list=wh_ratios, max_wh_ratio=max_wh_ratio)
            for i, read in zip(chunk, decoded, strict=True):
                reads[i] = read
        return reads

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for ``batch``; with rows_apart, one row at a time: the same
        output, with one row's activations at a time in memory."""
        if not self._rows_apart:
            self._request.infer([batch])
            return self._request.get_output_tensor(0).data
        rows = []
        for row in range(len(batch)):
            self._request.infer([batch[row : row + 1]])
            rows.append(self._request.get_output_tensor(0).data.copy())
        return np.concatenate(rows)


def _with_char_boxes(crop: np.ndarray, box: np.ndarray, read: tuple) -> tuple:
    """``read`` (text, score, CTC word info) with one box per character in page
    coordinates, as RapidOCR's CalRecBoxes computes them, point for point, but with each
    box's corners left in the order they are computed instead of sorted: they only give
    the characters' left and right edges (ocr.respace), and sorting them was three
    quarters of that step's cost (~40 ms a receipt). The same corners on every line of
    both sroie sets; on a narrow, tilted or diamond-shaped box RapidOCR's sort can repeat
    one corner and drop another, and these are then the true corners."""
    text, score, word_info = read[0], read[1], read[2]
    height, width = crop.shape[:2]
    whole = np.array([[0, 0], [width, 0], [width, height], [0, height]])
    _, cells, _ = _BOXES.CalRecBoxes.cal_ocr_word_box(text, whole, word_info)
    cells = _BOXES.CalRecBoxes.adjust_box_overlap(cells)
    upright = _BOXES.CalRecBoxes.get_box_direction(box) == "w"
    corners = np.array(box, dtype=np.float32)  # a copy: the box is the line's too
    left, top = int(np.min(corners[:, 0])), int(np.min(corners[:, 1]))
    corners -= (left, top)
    crop_w = int(np.linalg.norm(corners[0] - corners[1]))
    crop_h = int(np.linalg.norm(corners[0] - corners[3]))
    target = np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
    _, back = cv2.invert(cv2.getPerspectiveTransform(corners, target))
    char_boxes = []
    for cell in cells:
        points = []
        for point in cell:
            if not upright:  # read turned: turn the point back first
                point = _BOXES.CalRecBoxes.s_rotate(math.radians(-90), *point, 0, 0)
                point[0] = point[0] + crop_w
            x, y, z = np.dot(back, np.float32([*point, 1]))
            points.append([int(x / z + left), int(y / z + top)])
        char_boxes.append(points)
    return (text, score, char_boxes)


def _reading_order(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes top to bottom, and left to right within 10 px of height, as RapidOCR orders
    them (RapidOCR.sorted_boxes): which lines are the header's depends on it."""
    ordered = sorted(boxes, key=lambda box: (box[0][1], box[0][0]))
    for i in range(len(ordered) - 1):
        for j in range(i, -1, -1):
            after, before = ordered[j + 1][0], ordered[j][0]
            if abs(after[1] - before[1]) < 10 and after[0] < before[0]:
                ordered[j], ordered[j + 1] = ordered[j + 1], ordered[j]
            else:
                break
    return ordered


def _sure_of_a_date(read: tuple) -> bool:
    return read[1] >= TEXT_SCORE and bool(parse_dates(read[0]))


def _lost_date(text: str) -> bool:
    return bool(_DATE_OR_TIME.search(text)) and not parse_dates(text)


def _keep_ascii(model: ov.Model, characters: list[str]) -> list[str]:
    """Cut the model's output layer to the CTC blank, the characters that are ASCII once
    NFKC-normalised, and the space; return those characters. An accented letter is read
    as a plain one or lost: keeping the Latin letters too ("é", "ł") made both models read
    accents into plain receipts ("Totäl", "ŚDN BHD"), and the fields at confidence >= 0.9
    fell under 99 % right (bench/RESULTS.md, 2026-12-04 21:30 UTC).

    The layer's outputs for the other characters (18,708 in PP-OCRv6, 6,623 in PP-OCRv4,
    mostly CJK) were most of a recogniser's memory for a long line: three float32
    buffers of that many x the line's columns / 8."""
    keep = [0] + [i + 1 for i, c in enumerate(characters) if _is_ascii(c)] + [len(characters) + 1]
    softmax = model.output(0).get_node().input_value(0).get_node()  # behind the Result
    node = softmax.input_value(0).get_node()
    while True:  # back through the bias and any no-op to the weights
        data = _constant_input(node)
        if node.get_type_name() in ("MatMul", "Add") and data is not None:
            index, values = data
            sliced = ov.op.Constant(np.ascontiguousarray(values[..., keep]))
            node.input(index).replace_source_output(sliced.output(0))
        if node.get_type_name() == "MatMul":
            break
        node = next(
            v.get_node() for v in node.input_values() if v.get_node().get_type_name() != "Constant"
        )
    model.validate_nodes_and_infer_types()
    return [characters[i - 1] for i in keep[1:-1]]


def _constant_input(node: ov.Node) -> tuple[int, np.ndarray] | None:
    for index, value in enumerate(node.input_values()):
        source = value.get_node()
        if source.get_type_name() == "Constant":
            return index, source.get_data()
    return None


def _is_ascii(character: str) -> bool:
    normal = unicodedata.normalize("NFKC", character)
    return len(normal) == 1 and " " < normal <= "~"


def _along(array: np.ndarray, axis: int, start: int, end: int) -> np.ndarray:
    """A view of ``array`` cut to ``start:end`` on ``axis``."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, end)
    return array[tuple(index)]


def _normalize(image: np.ndarray) -> np.ndarray:
    """(x / 255 - 0.5) / 0.5 in one float32 pass, laid out NCHW."""
    return cv2.dnn.blobFromImage(image, 1 / 127.5, mean=(127.5, 127.5, 127.5))


def _clockwise(points: np.ndarray) -> np.ndarray:
    """Order a quadrilateral's corners top-left, top-right, bottom-right, bottom-left."""
    by_x = points[np.argsort(points[:, 0]), :]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1]), :]
    top_right, bottom_right = right[np.argsort(right[:, 1]), :]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's contents straightened into an upright rectangle."""
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(
        image,
        cv2.getPerspectiveTransform(box, target),
        (width, height),
        borderMode=cv2.BORDER_REPLICATE,
        flags=cv2.INTER_CUBIC,
    )
    if crop.shape[0] >= 1.5 * crop.shape[1]:  # a vertical line is read turned
        crop = np.rot90(crop)
    return crop
