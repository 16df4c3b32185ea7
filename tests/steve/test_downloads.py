"""The signed download URLs Steve serves itself (local storage): who may read a file
through them, and how the bytes are handed to the browser."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from submissions.api.serializers import file_data
from tests import factories
from tests.submissions.test_review_support import stored_file

pytestmark = pytest.mark.django_db

HOSTILE_LABEL = 'receipt"; filename="evil.html\r\nSet-Cookie: a=b/../../etc/passwd'


def download_path(file) -> str:
    return file_data(file)["downloadUrl"].removeprefix("http://testserver")


def uploaded_file(company, *, label: str = "receipt"):
    submission = factories.SubmissionFactory(company=company)
    file = stored_file(submission)
    file.label = label
    file.uploaded_at = timezone.now()
    file.save(update_fields=["label", "uploaded_at"])
    return file


def test_a_label_with_quotes_line_breaks_or_a_path_downloads_under_a_safe_name(company):
    file = uploaded_file(company, label=HOSTILE_LABEL)
    response = Client().get(download_path(file))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    assert disposition.count('"') == 2  # one quoted name, not a second parameter
    assert "Set-Cookie" not in response.cookies
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_a_non_ascii_label_keeps_its_name_in_the_encoded_form(company):
    file = uploaded_file(company, label="reçu")
    disposition = Client().get(download_path(file))["Content-Disposition"]
    assert disposition == "attachment; filename*=utf-8''re%C3%A7u-0.png"


def test_a_label_with_a_bidi_override_or_an_invisible_character_downloads_without_it(company):
    # After U+202E a browser shows the rest of the name reversed, its extension too.
    file = uploaded_file(company, label="re\u00e7u\u202e\u200bfdp")
    disposition = Client().get(download_path(file))["Content-Disposition"]
    assert disposition == "attachment; filename*=utf-8''re%C3%A7ufdp-0.png"


def test_a_tampered_download_url_is_refused_and_an_old_one_has_expired(company, settings):
    path = download_path(uploaded_file(company))
    token = path.rsplit("/", 1)[1]
    value, signature = token.rsplit(":", 1)
    forged = f"/files/{value}:{signature[::-1]}"
    assert Client().get(forged).status_code == 403
    settings.DOWNLOAD_URL_TTL = timedelta(seconds=-2)  # past the 1 s grace: every link is too old
    assert Client().get(path).status_code == 410
