"""A submission's files for the reviewer: the uploaded bytes, and each page rendered as
OCR read it (submissions.pages renders, submissions.page_cache keeps; this module reads
storage)."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from django.views.decorators.http import require_GET

from steve.accounts import company_required
from submissions.models import SubmissionFile
from submissions.page_cache import BROWSER_SECONDS, keep_page, kept_page, page_etag
from submissions.pages import NoSuchPage, render_png_apart, stored_transform
from submissions.selectors import submission_live_file
from submissions.views.common import own_submission

ROTATIONS = {"0": 0, "90": 90, "180": 180, "270": 270}


def is_raster(mime: str) -> bool:
    """An image a browser shows without running anything (SVG can carry scripts)."""
    return mime.startswith("image/") and mime != "image/svg+xml"


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
    etag = f'"{file.sha256}"' if file.sha256 else None
    if etag and _matches(request, etag):
        return _cached(HttpResponseNotModified(), etag)
    mime = file.mime_type or file.declared_content_type or "application/octet-stream"
    # Only raster images show inline (the page views PDFs as rendered PNGs); a PDF or
    # anything else downloads, so no active content runs under our origin.
    response = FileResponse(default_storage.open(file.storage_key, "rb"), content_type=mime)
    response["Content-Disposition"] = "inline" if is_raster(mime) else "attachment"
    return _cached(response, etag)


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
    rotate = ROTATIONS.get(request.GET.get("rotate", "0"), 0)
    etag = page_etag(file, page, rotate)
    if _matches(request, etag):
        return _cached(HttpResponseNotModified(), etag)
    png = kept_page(file, page, rotate, etag)
    if png is None:
        with default_storage.open(file.storage_key, "rb") as handle:
            data = handle.read()
        transform = stored_transform(file.page_transforms, page)
        try:
            png = render_png_apart(
                data, pdf=mime == "application/pdf", page=page, transform=transform, rotate=rotate
            )
        except NoSuchPage as error:
            raise Http404(str(error)) from error
        keep_page(file, page, rotate, etag, png)
    return _cached(HttpResponse(png, content_type="image/png"), etag)


def _matches(request: HttpRequest, etag: str) -> bool:
    """Whether the browser's copy is this drawing (If-None-Match, compared weakly as
    RFC 9110 says for it)."""
    asked = request.headers.get("If-None-Match", "")
    return asked.strip() == "*" or etag in parse_etags(asked)


def _cached(response: HttpResponse, etag: str | None) -> HttpResponse:
    """A file's or a page's answer, kept by the reviewer's browser only (never a shared
    cache: it is one company's), under its ETag where it has one."""
    if etag:
        response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={BROWSER_SECONDS}"
    return response
