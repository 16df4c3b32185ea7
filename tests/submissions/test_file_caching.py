"""A submission's uploaded file, asked for again with its ETag (its bytes' sha256), is
answered 304 without its bytes being read; the ETag opens no file the reviewer could not
open without it."""

import pytest
from django.test import Client
from django.urls import reverse

from jobs.services import _purge_one
from submissions.services import submission_files_withdraw
from tests import factories
from tests.submissions.test_review_support import pdf_bytes, stored_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploaded(company):
    """A PDF in review, and the address of its bytes."""
    submission = factories.SubmissionFactory(company=company)
    file = stored_file(submission, content=pdf_bytes(pages=1))
    return submission, file, reverse("review:file", args=[submission.pk, 0])


def test_a_file_asked_for_again_with_its_etag_is_304_without_its_bytes(ui, uploaded):
    _, file, url = uploaded
    first = ui.get(url)
    assert first.status_code == 200 and first["ETag"] == f'"{file.sha256}"'
    assert b"".join(first.streaming_content).startswith(b"%PDF")

    again = ui.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"] and again["Cache-Control"].startswith("private")


def test_a_file_asked_for_with_another_etag_is_sent_whole(ui, uploaded):
    _, _, url = uploaded
    stale = ui.get(url, HTTP_IF_NONE_MATCH='"' + "0" * 64 + '"')
    assert stale.status_code == 200
    assert b"".join(stale.streaming_content).startswith(b"%PDF")


def test_a_file_without_a_recorded_hash_is_sent_without_an_etag(ui, uploaded):
    _, file, url = uploaded
    file.sha256 = ""
    file.save(update_fields=["sha256"])
    response = ui.get(url, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 200 and "ETag" not in response


def test_another_companys_reviewer_with_the_files_etag_gets_404_not_304(ui, uploaded):
    _, _, url = uploaded
    etag = ui.get(url)["ETag"]
    outsider = Client()
    outsider.force_login(factories.UserFactory(companies=[factories.CompanyFactory()]))
    assert outsider.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert outsider.get(url, HTTP_IF_NONE_MATCH="*").status_code == 404


def test_a_withdrawn_or_purged_file_is_404_even_with_its_etag(ui, company, uploaded):
    submission, _, url = uploaded
    etag = ui.get(url)["ETag"]
    submission_files_withdraw(submission_id=submission.pk)
    assert ui.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
    _purge_one(submission.pk, company.pk)
    assert ui.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
