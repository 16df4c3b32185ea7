"""The review page's rendered pages with Redis (their cache) unreachable."""

import time

import pytest
from django.urls import reverse

from steve import redis_pause
from tests import factories
from tests.redis_down import redis_down  # noqa: F401 - a fixture
from tests.submissions.test_review_support import pdf_bytes, stored_file

pytestmark = pytest.mark.django_db


def test_a_page_is_rendered_without_its_cache_when_redis_is_down(ui, company, redis_down):  # noqa: F811
    """The cache only saves a render: with Redis refused or hung, a reviewer's page image
    was a 500 (the cache's ConnectionError or TimeoutError), and the desk showed no page."""
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=pdf_bytes(pages=2))
    url = reverse("review:file_page", args=[submission.pk, 0, 1])

    started = time.monotonic()
    page = ui.get(url)
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
    assert time.monotonic() - started < 3
    assert redis_pause.redis_pause.active()  # found down once; the next calls do not wait
    again = ui.get(url)
    assert again.status_code == 200 and again.content == page.content
