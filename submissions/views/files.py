"""A submission's files for the reviewer: the uploaded bytes, and each page rendered as
OCR read it (submissions.pages renders; this module reads storage and caches)."""

import json
import logging
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from steve import redis_pause
from steve.accounts import company_required
from submissions.models import SubmissionFile
from submissions.pages import PDF_SCALE, NoSuchPage, render_png_apart, stored_transform
from submissions.selectors import submission_live_file
from submissions.views.common import own_submission

logger = logging.getLogger(__name__)

PDF_CACHE_SECONDS = 600
ROTATIONS = {"0": 0, "90": 90, "180": 180, "270": 270}


def is_raster(mime: str) -> bool:
    """An image a browser shows without running anything (SVG can carry scripts)."""
    return mime.startswith("image/") and mime != "image/svg+xml"


def _own_file(request: HttpRequest, submission_id: str, index: int) -> SubmissionFile:
    file = submission_live_file(own_submission(request, submission_id), index)
    if file is None or not default_storage.exists(file.storage_key):
        raise Http404("No such file.")
    return file


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
@company_required
def file_content(request: HttpRequest, submission_id: str, index: int) -> HttpResponse:
    """The file's bytes, streamed from storage, for the reviewer's own company only."""
    file = _own_file(request, submission_id, index)
    mime = file.mime_type or file.declared_content_type or "application/octet-stream"
    # Only raster images show inline (the page views PDFs as rendered PNGs); a PDF or
    # anything else downloads, so no active content runs under our origin.
    response = FileResponse(default_storage.open(file.storage_key, "rb"), content_type=mime)
    response["Content-Disposition"] = "inline" if is_raster(mime) else "attachment"
    return _private(response)


@require_GET
@company_required
def file_page(request: HttpRequest, submission_id: str, index: int, page: int) -> HttpResponse:
    """One page as OCR read it (a PDF page rendered, an image straightened and turned),
    as PNG; `rotate` (90/180/270 clockwise) turns it for the viewer's rotate button."""
    file = _own_file(request, submission_id, index)
    mime = file.mime_type or file.declared_content_type
    if mime != "application/pdf" and not is_raster(mime):
        raise Http404("Not a page.")
    rotate = ROTATIONS.get(request.GET.get("rotate", "0"), 0)
    transform = stored_transform(file.page_transforms, page)
    # Rendering costs far more than the bytes: reviewers flip pages back and forth.
    key = (
        f"review:page:{file.pk}:{file.sha256 or file.size}:{page}:{PDF_SCALE}:"
        f"{json.dumps(transform, sort_keys=True)}:{rotate}"
    )
    png = _cache_call("get", key)
    if png is None:
        with default_storage.open(file.storage_key, "rb") as handle:
            data = handle.read()
        try:
            png = render_png_apart(
                data, pdf=mime == "application/pdf", page=page, transform=transform, rotate=rotate
            )
        except NoSuchPage as error:
            raise Http404(str(error)) from error
        _cache_call("set", key, png, PDF_CACHE_SECONDS)
    return _private(HttpResponse(png, content_type="image/png"))


def _cache_call(method: str, *args: Any) -> Any:
    """The cache only saves a render: a page image that was a 500 while Redis was down
    is rendered each time instead."""
    return redis_pause.cache_call(method, *args, log=logger, what="Page render")
