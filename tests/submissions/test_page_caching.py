"""The review desk's page images are drawn once: the browser asks again with their ETag
and gets a 304 without a render, the server keeps a bounded copy of each render, and
neither outlives the file's access rules or its retention purge."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from jobs.services import _purge_one
from submissions import page_cache
from submissions.services import submission_files_withdraw
from tests import factories
from tests.submissions.test_review_support import pdf_bytes, stored_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdf_page(company):
    """A two-page PDF in review, and the address of its second page."""
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=pdf_bytes(pages=2))
    return submission, reverse("review:file_page", args=[submission.pk, 0, 1])


@pytest.fixture
def renders(monkeypatch):
    """Counts the page renders of the desk's page view (each still drawn for real)."""
    from submissions.views import files

    drawn: list[int] = []
    real = files.render_png_apart

    def counted(data: bytes, **options: object) -> bytes:
        drawn.append(options["page"])
        return real(data, **options)

    monkeypatch.setattr(files, "render_png_apart", counted)
    return drawn


def test_a_page_asked_for_again_with_its_etag_is_304_without_a_render(ui, pdf_page, renders):
    _, url = pdf_page
    first = ui.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert first["Cache-Control"] == f"private, max-age={page_cache.BROWSER_SECONDS}"
    assert renders == [1]

    cache.clear()  # not answered from the server's copy either: nothing is drawn or read
    again = ui.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Cache-Control"].startswith("private")
    assert renders == [1]


def test_a_page_turned_another_way_or_another_page_has_another_etag(ui, pdf_page, renders):
    submission, url = pdf_page
    etag = ui.get(url)["ETag"]
    turned = ui.get(url, {"rotate": "90"}, HTTP_IF_NONE_MATCH=etag)
    assert turned.status_code == 200 and turned["ETag"] != etag
    first_page = reverse("review:file_page", args=[submission.pk, 0, 0])
    other = ui.get(first_page, HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200 and other["ETag"] not in (etag, turned["ETag"])
    assert renders == [1, 1, 0]


def test_another_companys_reviewer_with_the_etag_gets_404_not_304(ui, pdf_page, renders):
    _, url = pdf_page
    etag = ui.get(url)["ETag"]
    outsider = Client()
    outsider.force_login(factories.UserFactory(companies=[factories.CompanyFactory()]))
    assert outsider.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert outsider.get(url, HTTP_IF_NONE_MATCH="*").status_code == 404


def test_a_withdrawn_or_purged_files_page_is_404_even_with_its_etag(ui, company, pdf_page):
    submission, url = pdf_page
    etag = ui.get(url)["ETag"]
    submission_files_withdraw(submission_id=submission.pk)
    assert ui.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
    _purge_one(submission.pk, company.pk)
    assert ui.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_the_retention_purge_deletes_the_files_kept_renders(ui, company, pdf_page):
    submission, url = pdf_page
    ui.get(url)
    ui.get(url, {"rotate": "270"})
    file = submission.files.get()
    kept = [page_cache.cache_key(file.pk, 1, 0), page_cache.cache_key(file.pk, 1, 270)]
    assert all(cache.get(key) is not None for key in kept)

    submission_files_withdraw(submission_id=submission.pk)
    _purge_one(submission.pk, company.pk)
    assert [cache.get(key) for key in kept] == [None, None]


def test_a_render_is_kept_for_the_next_reviewer_unless_it_is_over_the_items_cap(
    company, pdf_page, renders, monkeypatch
):
    _, url = pdf_page
    reviewers = []
    for _ in range(3):
        client = Client()
        client.force_login(factories.UserFactory(companies=[company]))
        reviewers.append(client)
    first = reviewers[0].get(url)
    assert reviewers[1].get(url).content == first.content
    assert renders == [1]  # the second reviewer's browser had no copy: the server's served

    cache.clear()
    monkeypatch.setattr(page_cache, "MAX_ITEM_BYTES", len(first.content) - 1)
    assert reviewers[2].get(url).content == first.content
    assert reviewers[2].get(url).content == first.content
    assert renders == [1, 1, 1]  # too large to keep: drawn each time, served all the same


def test_without_a_shared_cache_no_render_is_kept_and_each_is_drawn(
    ui, pdf_page, renders, settings
):
    # Without Redis the cache is the web process's memory, which bounds entries, not
    # bytes: renders of up to 8 MB each were kept there by the hundred.
    settings.PAGE_RENDER_CACHE_SECONDS = 0
    submission, url = pdf_page
    first = ui.get(url)
    assert cache.get(page_cache.cache_key(submission.files.get().pk, 1, 0)) is None
    assert ui.get(url).content == first.content
    assert renders == [1, 1]
    # The browser's own copy still spares a render.
    assert ui.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert renders == [1, 1]
