"""A submission's files for the reviewer: the uploaded bytes, and each page rendered as
OCR read it (submissions.pages renders, submissions.page_cache keeps; this module reads
storage)."""

from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import parse_etags
from django.views.decorators.http import require_GET

from steve.accounts import company_required
from submissions.models import SubmissionFile
from submissions.page_cache import (
    BROWSER_SECONDS,
    IMMUTABLE,
    failed_drawing,
    file_version,
    keep_page,
    kept_page,
    page_etag,
    page_version,
    remember_failed,
)
from submissions.pages import NoSuchPage, PageNotDrawn, render_png_apart, stored_transform
from submissions.selectors import submission_live_file
from submissions.views.common import own_submission

ROTATIONS = {"0": 0, "90": 90, "180": 180, "270": 270}
# A page that is there but could not be drawn (pages.PageNotDrawn): not 404, which the
# desk reads as the file withdrawn or purged (review.js), and not a 5xx, which is ours.
NOT_DRAWN_STATUS = 422


def is_raster(mime: str) -> bool:
    """An image a browser shows without running anything (SVG can carry scripts)."""
    return mime.startswith("image/") and mime != "image/svg+xml"


def file_url(file: SubmissionFile) -> str:
    """The address of a file's bytes, versioned by them where their hash is known."""
    url = reverse("review:file", args=[file.submission_id, file.file_index])
    version = file_version(file)
    return f"{url}?v={version}" if version else url


def file_page_url(file: SubmissionFile, page: int) -> str:
    """The address of one page as drawn, versioned by its drawing (page_version)."""
    url = reverse("review:file_page", args=[file.submission_id, file.file_index, page])
    return f"{url}?v={page_version(file, page)}"


def _own_file(request: HttpRequest, submission_id: str, index: int) -> SubmissionFile:
    file = submission_live_file(own_submission(request, submission_id), index)
    if file is None or not default_storage.exists(file.storage_key):
        raise Http404("No such file.")
    return file


@require_GET
@company_required
def file_content(request: HttpRequest, submission_id: str, index: int) -> HttpResponse:
    """The file's bytes, streamed from storage, for the reviewer's own company only.

    A stored file never changes, so its bytes' sha256 is a strong ETag: a browser asking
    again with it gets a 304 without the file being read (a scan can be tens of MB). Only
    after the file is found live and the reviewer's company's, as for file_page. A file
    stored without its hash is sent without an ETag."""
    file = _own_file(request, submission_id, index)
    if _stale(request, file_version(file)):
        return _moved(file_url(file), request)
    etag = f'"{file.sha256}"' if file.sha256 else None
    if etag and _matches(request, etag):
        return _cached(HttpResponseNotModified(), etag, request)
    mime = file.mime_type or file.declared_content_type or "application/octet-stream"
    # Only raster images show inline (the page views PDFs as rendered PNGs); a PDF or
    # anything else downloads, so no active content runs under our origin.
    response = FileResponse(default_storage.open(file.storage_key, "rb"), content_type=mime)
    response["Content-Disposition"] = "inline" if is_raster(mime) else "attachment"
    return _cached(response, etag, request)


@require_GET
@company_required
def file_page(request: HttpRequest, submission_id: str, index: int, page: int) -> HttpResponse:
    """One page as OCR read it (a PDF page rendered, an image straightened and turned),
    as PNG; `rotate` (90/180/270 clockwise) turns it for the viewer's rotate button.

    Rendering costs far more than the bytes, and reviewers flip pages back and forth: a
    browser asking again with the page's ETag gets a 304 without a render, and a render
    is kept a while for the next reviewer (submissions.page_cache). Both only after the
    file is found live and the reviewer's company's, so a foreign or purged file is 404
    whatever ETag is sent."""
    file = _own_file(request, submission_id, index)
    mime = file.mime_type or file.declared_content_type
    if mime != "application/pdf" and not is_raster(mime):
        raise Http404("Not a page.")
    if _stale(request, page_version(file, page)):
        return _moved(file_page_url(file, page), request)
    rotate = ROTATIONS.get(request.GET.get("rotate", "0"), 0)
    etag = page_etag(file, page, rotate)
    if _matches(request, etag):
        return _cached(HttpResponseNotModified(), etag, request)
    png = kept_page(file, page, rotate, etag)
    if png is None:
        # A page that timed out took RENDER_SECONDS of this worker at each view and turn.
        failed = failed_drawing(file, page, rotate, etag)
        if failed is not None:
            return _not_drawn(request, file, failed)
        with default_storage.open(file.storage_key, "rb") as handle:
            data = handle.read()
        transform = stored_transform(file.page_transforms, page)
        try:
            png = render_png_apart(
                data, pdf=mime == "application/pdf", page=page, transform=transform, rotate=rotate
            )
        except PageNotDrawn as error:
            remember_failed(file, page, rotate, etag, str(error), lasting=error.lasting)
            return _not_drawn(request, file, str(error))
        except NoSuchPage as error:
            raise Http404(str(error)) from error
        keep_page(file, page, rotate, etag, png)
    return _cached(HttpResponse(png, content_type="image/png"), etag, request)


def _not_drawn(request: HttpRequest, file: SubmissionFile, reason: str) -> HttpResponse:
    """A page there that is not drawn: why, and its file's download (the desk's script
    shows the same in the page's place). Not kept by the browser: the next try may draw it."""
    response = render(
        request,
        "review/_page_not_drawn.html",
        {"reason": reason, "original": file_url(file)},
        status=NOT_DRAWN_STATUS,
    )
    response["Cache-Control"] = "private, no-cache"
    return response


def _matches(request: HttpRequest, etag: str) -> bool:
    """Whether the browser's copy is this drawing (If-None-Match, compared weakly as
    RFC 9110 says for it)."""
    asked = request.headers.get("If-None-Match", "")
    return asked.strip() == "*" or etag in parse_etags(asked)


def _stale(request: HttpRequest, version: str | None) -> bool:
    """Whether the address names a version (?v=) that is not the current one."""
    asked = request.GET.get("v")
    return asked is not None and asked != version


def _moved(url: str, request: HttpRequest) -> HttpResponse:
    """A stale version's answer: the current address, the viewer's rotation kept. Not the
    bytes under the old one: kept a day there, they would be another drawing's copy (a
    page's drawing changed) under that address. Never kept itself: the next drawing
    moves it on again. Only after the file is found live and the reviewer's (_own_file)."""
    rotate = request.GET.get("rotate")
    if rotate in ROTATIONS:
        url += ("&" if "?" in url else "?") + f"rotate={rotate}"
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-cache"
    return response


def _cached(response: HttpResponse, etag: str | None, request: HttpRequest) -> HttpResponse:
    """A file's or a page's answer, kept by the reviewer's browser only (never a shared
    cache: it is one company's), under its ETag where it has one. At its current versioned
    address (_stale checked it) for a day (IMMUTABLE) without asking again: those bytes never change
    there; at an unversioned one a short while, then asked again with the ETag."""
    if etag:
        response["ETag"] = etag
    versioned = request.GET.get("v") is not None
    response["Cache-Control"] = IMMUTABLE if versioned else f"private, max-age={BROWSER_SECONDS}"
    return response
