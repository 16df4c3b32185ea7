from datetime import UTC, datetime

from django.utils import timezone


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, the one timestamp format on the wire."""
    if value is None:
        return None
    value = value.astimezone(UTC) if timezone.is_aware(value) else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
