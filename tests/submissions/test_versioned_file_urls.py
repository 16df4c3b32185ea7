"""The desk's page images and original files are linked by versioned addresses (?v=, of
what the bytes or the drawing are), which a browser keeps for a day without asking
again; an address without a version still works (revalidated by its ETag), a stale one is
sent to the current one, and a withdrawn or purged file is 404 at every address."""

import re

import pytest
from django.urls import reverse

from fraud.models import FraudMatch
from jobs.services import _purge_one
from submissions import page_cache
from submissions.models import Submission
from submissions.services import submission_files_withdraw
from tests import factories
from tests.submissions.test_review_support import flag, pdf_bytes, stored_file

pytestmark = pytest.mark.django_db

IMMUTABLE = "private, max-age=86400, immutable"


def image_sources(html: str) -> list[str]:
    return [src.replace("&amp;", "&") for src in re.findall(r'<img src="([^"]+)"', html)]


@pytest.fixture
def pdf(company) -> Submission:
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=pdf_bytes(pages=2))
    return submission


@pytest.fixture
def image(company) -> Submission:
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission)
    return submission


def test_the_pages_the_desk_shows_are_versioned_and_kept_for_a_day(ui, pdf):
    html = ui.get(reverse("review:detail", args=[pdf.pk])).content.decode()
    pages = image_sources(html)
    assert [src.split("?")[0] for src in pages] == [
        reverse("review:file_page", args=[pdf.pk, 0, n]) for n in (0, 1)
    ]
    for src in pages:
        assert re.fullmatch(r"[^?]+\?v=[0-9a-f]{16}", src)
        response = ui.get(src)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == IMMUTABLE and response["ETag"]
    # Turned, the same version with the turn: kept for a day too.
    turned = ui.get(f"{pages[1]}&rotate=90")
    assert turned.status_code == 200 and turned["Cache-Control"] == IMMUTABLE


def test_the_original_the_desk_shows_is_versioned_by_its_bytes_hash(ui, image):
    file = image.files.get()
    html = ui.get(reverse("review:detail", args=[image.pk])).content.decode()
    [src] = image_sources(html)
    assert src == f"{reverse('review:file', args=[image.pk, 0])}?v={file.sha256[:16]}"
    assert f'href="{src}"' in html  # "Open original" too
    response = ui.get(src)
    assert response.status_code == 200 and response["Cache-Control"] == IMMUTABLE
    assert response["ETag"] == f'"{file.sha256}"'


def test_an_unversioned_address_still_works_and_is_revalidated(ui, pdf, image):
    for url in (
        reverse("review:file_page", args=[pdf.pk, 0, 1]),
        reverse("review:file", args=[image.pk, 0]),
    ):
        first = ui.get(url)
        assert first.status_code == 200
        assert first["Cache-Control"] == f"private, max-age={page_cache.BROWSER_SECONDS}"
        again = ui.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304


def test_a_stale_version_is_sent_to_the_current_one(ui, pdf, image, monkeypatch):
    html = ui.get(reverse("review:detail", args=[pdf.pk])).content.decode()
    old_page = image_sources(html)[1]
    # The pages are drawn differently from now on: their addresses change.
    monkeypatch.setattr(page_cache, "DRAWING_REVISION", page_cache.DRAWING_REVISION + 1)
    html = ui.get(reverse("review:detail", args=[pdf.pk])).content.decode()
    new_page = image_sources(html)[1]
    assert new_page != old_page
    moved = ui.get(f"{old_page}&rotate=180")
    assert moved.status_code == 302 and "immutable" not in moved["Cache-Control"]
    assert moved["Location"] == f"{new_page}&rotate=180"
    assert ui.get(moved["Location"])["Cache-Control"] == IMMUTABLE

    original = reverse("review:file", args=[image.pk, 0])
    moved = ui.get(original, {"v": "f" * 16})
    assert moved.status_code == 302
    assert moved["Location"] == f"{original}?v={image.files.get().sha256[:16]}"


def test_a_file_without_a_hash_has_no_version_and_a_versioned_address_leads_to_it(ui, image):
    file = image.files.get()
    file.sha256 = ""
    file.save(update_fields=["sha256"])
    original = reverse("review:file", args=[image.pk, 0])
    html = ui.get(reverse("review:detail", args=[image.pk])).content.decode()
    assert image_sources(html) == [original]
    moved = ui.get(original, {"v": "f" * 16})
    assert moved.status_code == 302 and moved["Location"] == original


@pytest.mark.parametrize("gone", ["withdrawn", "purged"])
def test_a_gone_files_versioned_addresses_are_404(ui, company, pdf, image, gone):
    urls = [
        *image_sources(ui.get(reverse("review:detail", args=[pdf.pk])).content.decode()),
        *image_sources(ui.get(reverse("review:detail", args=[image.pk])).content.decode()),
    ]
    assert all("?v=" in url for url in urls) and len(urls) == 3
    for submission in (pdf, image):
        submission_files_withdraw(submission_id=submission.pk)
        if gone == "purged":  # its bytes deleted too, as the retention purge does next
            assert _purge_one(submission.pk, company.pk) != "not withdrawn"
    for url in urls:
        assert ui.get(url).status_code == 404
        assert ui.get(url.split("?")[0], {"v": "f" * 16}).status_code == 404


def test_the_fraud_panels_images_are_versioned(ui, company, image):
    earlier = factories.SubmissionFactory(company=company)
    stored_file(earlier, content=pdf_bytes(pages=1))
    match: FraudMatch = flag(image, earlier)
    html = ui.get(reverse("fraud:panel", args=[match.submission_id])).content.decode()
    page = reverse("review:file_page", args=[earlier.pk, 0, 0])
    assert re.search(rf"{re.escape(page)}\?v=[0-9a-f]{{16}}", html)
    assert f"{page}'" not in html and f'{page}"' not in html
