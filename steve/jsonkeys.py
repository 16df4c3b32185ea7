"""Taking keys out of stored JSON at any depth: retention removes a purged submission's
results from the rows that copied them (webhook payloads, fraud-match details)."""

from typing import Any


def without_keys(value: Any, keys: frozenset[str], *, blank: bool = False) -> Any:
    """``value`` without any object entry named in ``keys``, however deep; with ``blank``
    the entry stays as null, so a payload keeps the shape its receiver was sent."""
    if isinstance(value, list):
        return [without_keys(item, keys, blank=blank) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key not in keys:
            kept[key] = without_keys(item, keys, blank=blank)
        elif blank:
            kept[key] = None
    return kept


def with_values(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with every object entry named in ``values``, however deep, set to the
    value given for it there: a purged submission's results put back as its detail now
    shows them (null, ``{}``), in the place and type an API answer's schema keeps."""
    if isinstance(value, list):
        return [with_values(item, values) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: values[key] if key in values else with_values(item, values)
        for key, item in value.items()
    }
