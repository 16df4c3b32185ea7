"""Views of the core: health check, local-storage downloads, API error handlers."""

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from steve.api.errors import problem_for_status
from steve.middleware import API_PREFIX
from steve.storage import unsign_token


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a stored file for a signed, expiring link (local storage only)."""
    try:
        payload = unsign_token("download", token, settings.DOWNLOAD_URL_TTL)
    except signing.SignatureExpired:
        return problem_for_status(request, 410, "This download link has expired.")
    except signing.BadSignature:
        return problem_for_status(request, 403, "This download link is not valid.")
    key = payload.get("k", "")
    if not default_storage.exists(key):
        return problem_for_status(request, 404, "The file is no longer stored.")
    content_type = payload.get("t") or "application/octet-stream"
    response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{payload.get("n") or "file"}"'
    response["Cache-Control"] = "private, max-age=0, no-store"
    return response


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return problem_for_status(request, 404, "The requested resource does not exist.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return problem_for_status(request, 500, "Steve could not complete the request.")
    from django.views.defaults import server_error

    return server_error(request)
