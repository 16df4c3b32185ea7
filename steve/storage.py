"""Pre-signed URLs for stored files: S3 presigning, or signed URLs Steve serves itself."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage


def using_s3() -> bool:
    return settings.STORAGE_BACKEND == "s3"


def s3_client() -> Any:
    return default_storage.connection.meta.client


def s3_presign(method: str, key: str, ttl: timedelta, content_type: str | None = None) -> str:
    params: dict[str, Any] = {"Bucket": default_storage.bucket_name, "Key": key}
    if content_type:
        params["ContentType"] = content_type
    operation = {"PUT": "put_object", "GET": "get_object"}[method]
    return s3_client().generate_presigned_url(
        operation, Params=params, ExpiresIn=int(ttl.total_seconds())
    )


def object_location(key: str) -> str:
    """Where the object lives in storage (not a download link: it carries no signature)."""
    if using_s3():
        return f"s3://{default_storage.bucket_name}/{key}"
    return f"local://{key}"


def sign_token(purpose: str, payload: dict[str, Any]) -> str:
    return signing.TimestampSigner(salt=f"steve.{purpose}").sign_object(payload, compress=False)


def unsign_token(purpose: str, token: str, ttl: timedelta) -> dict[str, Any]:
    """The payload of a token Steve signed; raises signing.SignatureExpired / BadSignature."""
    signer = signing.TimestampSigner(salt=f"steve.{purpose}")
    return signer.unsign_object(token, max_age=ttl)


def download_url(key: str, *, filename: str = "", content_type: str = "") -> str:
    """A URL valid for settings.DOWNLOAD_URL_TTL that returns the file's bytes."""
    if using_s3():
        return s3_presign("GET", key, settings.DOWNLOAD_URL_TTL)
    token = sign_token("download", {"k": key, "n": filename, "t": content_type})
    return f"{settings.PUBLIC_BASE_URL}/files/{token}"
