"""Markers of the core's tests."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemathesis: property-based API run against a live server (~1 min)"
    )
