"""The OpenAPI schema built by two threads at once (the development server's gthread
workers, a test's concurrent clients)."""

import threading
import time

from drf_spectacular import plumbing
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework.test import APIClient

MISSING = "steve_no_such_module.Serializer"


def test_two_first_schema_requests_at_once_both_get_the_schema(monkeypatch):
    # drf-spectacular imports each extension's target on first use, unguarded; an
    # extension for an app that is not installed (simplejwt's, say) is set to None by
    # the first thread while the second is still in its except branch. A slow import
    # makes that window certain.
    extension = type("MissingTarget", (OpenApiSerializerExtension,), {"target_class": MISSING})
    real_import = plumbing.import_string

    def slow_import(path: str) -> object:
        if path == MISSING:
            time.sleep(0.3)
        return real_import(path)

    monkeypatch.setattr(plumbing, "import_string", slow_import)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def fetch() -> None:
        client = APIClient()
        barrier.wait()
        statuses.append(client.get("/api/v1/schema?format=json").status_code)

    try:
        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        OpenApiSerializerExtension._registry.remove(extension)
    assert statuses == [200, 200]
