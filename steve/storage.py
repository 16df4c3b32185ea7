"""Pre-signed URLs for stored files: S3 presigning, or signed URLs Steve serves itself."""

import logging
import math
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.http import content_disposition_header

from steve.errors import ServiceError
from steve.text import without_hidden

logger = logging.getLogger(__name__)

# What a download's name may not carry: control characters (a CR/LF split the header, a
# 500), quotes and backslashes (which ended the quoted name early) and path separators.
UNSAFE_FILENAME_CHARACTERS = re.compile(r'[\x00-\x1f\x7f"\\/]')
# How coarse signing.TimestampSigner's stamps (and S3's X-Amz-Date) are.
STAMP_RESOLUTION = timedelta(seconds=1)


# What the disk or S3 raise when they refuse or do not answer: a full disk (ENOSPC), a
# quota, a read-only or failing file system; S3 throttling (SlowDown), failing (5xx),
# refusing (AccessDenied) or out of reach (a connection refused, a timeout). boto3's
# upload wraps S3's answer in S3UploadFailedError (a Boto3Error).
STORAGE_FAILURES = (OSError, BotoCoreError, ClientError, Boto3Error)
# Long enough for S3 to stop throttling, or an operator to be paged about a full disk.
STORAGE_RETRY_AFTER_SECONDS = 30
# Where a disk write's bytes go until they are whole (store): one folder of their own,
# so beat's sweep of those a killed process left lists it alone, not every stored file.
PARTIAL_WRITES = ".partial"
# A write of bytes already in memory takes seconds: a partial file this old was left by
# a process killed before its rename (the OOM killer, gunicorn's timeout).
PARTIAL_WRITE_ABANDONED_AFTER = timedelta(hours=1)


class StorageUnavailable(ServiceError):
    """The disk or S3 refused or did not answer: Steve's side, and temporary. The API
    answers 503 STORAGE_UNAVAILABLE with Retry-After; what the call would have made was
    not made, so the same call can be sent again."""

    def __init__(self) -> None:
        super().__init__(
            "STORAGE_UNAVAILABLE",
            "Steve's file storage did not answer; send the request again shortly.",
            503,
            slug="storage-unavailable",
            retry_after=STORAGE_RETRY_AFTER_SECONDS,
        )


@contextmanager
def storage_answering(what: str) -> Iterator[None]:
    """The storage calls in the block; their refusal raises StorageUnavailable, logged
    (ERROR, the storage's own error, `what` naming the key: never a token) so the
    operator sees the disk or S3 failing, not a 500's traceback blamed on the code."""
    try:
        yield
    except STORAGE_FAILURES as error:
        logger.error("Storage refused %s: %s", what, error)
        raise StorageUnavailable() from error


def store(*, key: str, data: bytes) -> None:
    """`data` stored at `key` whole (replacing what was there), or nothing stored: the
    storage refusing raises StorageUnavailable.

    On a disk, the bytes go to a name of their own and are renamed to `key` once all
    written: a disk filling mid-write left the first part of a file at `key`, which a
    result poll then served as the result, and a submit read as the upload. That name is
    in PARTIAL_WRITES, where partial_writes_sweep deletes what a process killed before
    the rename left (beside `key`, it kept a receipt's bytes past their retention
    purge). An S3 PUT is whole or nothing already."""
    with storage_answering(f"a write of {key}"):
        if using_s3():
            default_storage.save(key, ContentFile(data))
            return
        partial = f"{PARTIAL_WRITES}/{secrets.token_hex(16)}"
        try:
            partial = default_storage.save(partial, ContentFile(data))
            path = default_storage.path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(default_storage.path(partial), path)
        except BaseException:
            with suppress(OSError):  # the refusal is what the caller is told, not this
                default_storage.delete(partial)
            raise


def partial_writes_sweep() -> int:
    """Delete the partial writes (store) older than PARTIAL_WRITE_ABANDONED_AFTER, those
    of processes killed before their rename; returns how many. Younger ones may still be
    being written."""
    if using_s3() or not default_storage.exists(PARTIAL_WRITES):
        return 0
    abandoned_before = timezone.now() - PARTIAL_WRITE_ABANDONED_AFTER
    removed = 0
    for name in default_storage.listdir(PARTIAL_WRITES)[1]:
        partial = f"{PARTIAL_WRITES}/{name}"
        with suppress(FileNotFoundError):  # renamed to its key since it was listed
            if default_storage.get_modified_time(partial) < abandoned_before:
                default_storage.delete(partial)
                removed += 1
    return removed


def forget_stored(keys: list[str]) -> None:
    """Delete `keys`, as far as the storage lets: cleaning up after its refusal, a
    second refusal must not hide the first."""
    for key in keys:
        with suppress(*STORAGE_FAILURES):
            default_storage.delete(key)


def using_s3() -> bool:
    return settings.STORAGE_BACKEND == "s3"


def s3_client() -> Any:
    return default_storage.connection.meta.client


def s3_presign(
    method: str,
    key: str,
    ttl: timedelta,
    content_type: str | None = None,
    *,
    response_headers: dict[str, str] | None = None,
) -> str:
    """`response_headers` (a GET's ResponseContentType, ResponseContentDisposition) are
    signed into the URL: S3 answers with them whatever the object was stored with."""
    params: dict[str, Any] = {"Bucket": default_storage.bucket_name, "Key": key}
    if content_type:
        params["ContentType"] = content_type
    params.update(response_headers or {})
    operation = {"PUT": "put_object", "GET": "get_object"}[method]
    # X-Amz-Date is floored to the second, like Steve's own stamps, and a TTL ending with
    # the session has a fraction: rounded up, the URL lasts at least `ttl` from now.
    expires_in = math.ceil((ttl + STAMP_RESOLUTION).total_seconds())
    return s3_client().generate_presigned_url(operation, Params=params, ExpiresIn=expires_in)


def object_location(key: str) -> str:
    """Where the object lives in storage (not a download link: it carries no signature)."""
    if using_s3():
        return f"s3://{default_storage.bucket_name}/{key}"
    return f"local://{key}"


def sign_token(purpose: str, payload: dict[str, Any]) -> str:
    return signing.TimestampSigner(salt=f"steve.{purpose}").sign_object(payload, compress=False)


def unsign_token(purpose: str, token: str, ttl: timedelta) -> dict[str, Any]:
    """The payload of a token Steve signed; raises signing.SignatureExpired / BadSignature.

    The signer stamps whole seconds (floored): counted from the stamp alone, a token
    signed at 10.9 s died at 10 s + ttl, up to a second before the expiry announced
    with it (uploadUrlsExpireAt), so a PUT in that second was refused as expired."""
    signer = signing.TimestampSigner(salt=f"steve.{purpose}")
    return signer.unsign_object(token, max_age=ttl + STAMP_RESOLUTION)


def download_filename(name: str) -> str:
    """The name a browser saves a download as: the file's label (a workflow's fileLabels,
    free text) with what could break the header or name a path replaced by "_", and
    without a bidi override or invisible character: after a U+202E the rest of the name,
    its extension too, is shown reversed in the browser's download bar."""
    safe = without_hidden(UNSAFE_FILENAME_CHARACTERS.sub("_", name)).strip(" .")
    return safe or "file"


def download_disposition(name: str) -> str:
    return content_disposition_header(True, download_filename(name))


def download_url(key: str, *, filename: str = "", content_type: str = "") -> str:
    """A URL valid for settings.DOWNLOAD_URL_TTL that returns the file's bytes, as an
    attachment of the type Steve sniffed from them."""
    if using_s3():
        # The upload's PUT sets the object's Content-Type, whatever the bytes: a JPEG
        # polyglot PUT as text/html was served as a page that runs from the bucket.
        headers = {
            "ResponseContentType": content_type or "application/octet-stream",
            "ResponseContentDisposition": download_disposition(filename),
        }
        return s3_presign("GET", key, settings.DOWNLOAD_URL_TTL, response_headers=headers)
    token = sign_token("download", {"k": key, "n": filename, "t": content_type})
    return f"{settings.PUBLIC_BASE_URL}/files/{token}"
