"""A 404 repeats the caller's id only when it could be one: a 3-KB id came back three
times (detail, the peers' error.message, instance), some 9 KB for a 3-KB request."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

LONG = "sub_" + "x" * 3000
HIDDEN = "sub_\u202eevil"  # a bidi override: shows as something else where it is read
NOT_FOUND = [
    ("get", "/api/v1/submissions/{id}", None),
    ("get", "/api/v1/jobs/{id}", None),
    ("post", "/api/v1/workflows/receipt-ocr/sessions/{id}/submit", None),
    ("get", "/api/v1/extraction-jobs/{id}", None),
    ("get", "/api/v1/extraction-jobs/{id}/result", None),
    ("get", "/api/v1/webhook-endpoints/{id}", None),
    ("get", "/api/v1/webhook-deliveries/{id}", None),
    ("post", "/api/v1/submissions/{submission}/fraud-matches/{id}/resolve", {"resolution": "x"}),
    ("get", "/api/v1/workflows/{id}", None),
    ("get", "/api/v1/workflows/{id}/versions/1", None),
]


def not_found(api, company, method: str, path: str, body: dict | None, sent_id: str):
    submission = factories.SubmissionFactory(company=company).pk
    url = path.format(id=sent_id, submission=submission)
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == 404, response.content
    return response


@pytest.mark.parametrize(("method", "path", "body"), NOT_FOUND)
def test_a_404_for_an_id_longer_than_any_does_not_repeat_it(
    api, company, workflows, method, path, body
):
    sent = LONG.replace("_", "-") if "workflows/{id}" in path else LONG  # a slug has no "_"
    response = not_found(api, company, method, path, body, sent)
    assert len(response.content) < 1500, len(response.content)
    problem = response.json()
    assert "x" * 100 not in problem["detail"]
    assert "x" * 100 not in problem["instance"]
    assert "x" * 100 not in problem.get("error", {}).get("message", "")


# The workflows' too: their real routes take no such slug, a catch-all answers them.
@pytest.mark.parametrize(("method", "path", "body"), NOT_FOUND)
def test_a_404_for_an_id_with_a_hidden_character_does_not_repeat_it(
    api, company, workflows, method, path, body
):
    problem = not_found(api, company, method, path, body, HIDDEN).json()
    assert "\u202e" not in problem["detail"]
    assert "\u202e" not in problem["instance"]
    assert "\u202e" not in problem.get("error", {}).get("message", "")


@pytest.mark.parametrize(("method", "path", "body"), NOT_FOUND)
def test_a_404_for_an_id_that_could_be_one_still_names_it(
    api, company, workflows, method, path, body
):
    sent = "no-such-slug" if "workflows/{id}" in path else "sub_01m95wrky0gszxw918mz9akv55"
    problem = not_found(api, company, method, path, body, sent).json()
    assert f"'{sent}'" in problem["detail"]
    assert sent in problem["instance"]
