"""One ServiceError: every app's services raise it, the exception handler maps it once,
and the review desk shows the same code and message as the API for the same failure."""

import ast
import importlib
import inspect
import typing
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from steve.api.errors import PROBLEM_BASE, problem_exception_handler
from steve.errors import ServiceError, field_error, invalid
from submissions.models import SubmissionStatus
from tests import factories
from tests.submissions.test_review_support import flag, submission_with_file

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p for p in ROOT.glob("*/services.py") if ".venv" not in p.parts)
S = SubmissionStatus


def _module_name(path: Path) -> str:
    return f"{path.parent.name}.services"


def _raised(node: ast.Raise) -> ast.expr:
    assert node.exc is not None
    return node.exc.func if isinstance(node.exc, ast.Call) else node.exc


def _resolve(module: object, expression: ast.expr) -> object:
    """The object a raise names (`SessionError`, `M.DoesNotExist`, `invalid`)."""
    if isinstance(expression, ast.Name):
        return getattr(module, expression.id)
    if isinstance(expression, ast.Attribute):
        return getattr(_resolve(module, expression.value), expression.attr)
    raise AssertionError(f"raises {ast.unparse(expression)}, which names no class")


def _is_service_error(raised: object) -> bool:
    if inspect.isclass(raised):
        return issubclass(raised, ServiceError)
    if callable(raised):  # a builder such as invalid(): what it returns is raised
        returned = typing.get_type_hints(raised).get("return")
        return inspect.isclass(returned) and issubclass(returned, ServiceError)
    return False


def test_every_app_has_services_to_check():
    assert {p.parent.name for p in SERVICES} >= {"jobs", "submissions", "fraud", "webhooks"}


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.parent.name)
def test_services_raise_nothing_but_service_errors(path):
    """A refusal a user can meet is a ServiceError (mapped to its problem, shown by the
    desk); any other exception out of a service is a bug and is answered as a 500."""
    module = importlib.import_module(_module_name(path))
    offending = [
        f"{path.parent.name}/services.py:{node.lineno} raises {ast.unparse(node.exc)}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Raise)
        and node.exc is not None
        and not _is_service_error(_resolve(module, _raised(node)))
    ]
    assert not offending, "\n".join(offending)


def test_the_scan_catches_a_plain_exception():
    """The check above can fail: a ValueError or a model's DoesNotExist is not a refusal."""
    from fraud import services as fraud_services

    assert not _is_service_error(ValueError)
    assert not _is_service_error(
        _resolve(fraud_services, ast.parse("M.DoesNotExist").body[0].value)
    )
    assert _is_service_error(invalid)
    assert _is_service_error(fraud_services.FraudMatchError)


def test_the_version_is_bumped_in_one_place():
    """Every optimistic-lock site locks with locked_submission and saves its change with
    save_new_version; no service counts versions itself."""
    bumps = []
    for path in SERVICES:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "version += 1" in line or 'F("version")' in line:
                bumps.append(f"{path.parent.name}/services.py:{number}")
    assert bumps == [f"submissions/services.py:{_line_of('submission.version += 1')}"]


def _line_of(text: str) -> int:
    source = (ROOT / "submissions" / "services.py").read_text().splitlines()
    return next(n for n, line in enumerate(source, start=1) if text in line)


# --- The one mapping -----------------------------------------------------------------------


def test_the_exception_handler_maps_a_service_error_to_its_problem():
    error = ServiceError(
        "SOMETHING_REFUSED",
        "Not now.",
        422,
        [field_error("when", "Not now.")],
        slug="something-refused",
        extra={"currentStatus": "review"},
    )
    response = problem_exception_handler(error, {"request": None})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.data == {
        "type": PROBLEM_BASE + "something-refused",
        "title": "Validation error",
        "status": 422,
        "detail": "Not now.",
        "instance": None,
        "code": "SOMETHING_REFUSED",
        "requestId": None,
        "errors": [{"field": "when", "message": "Not now.", "code": "invalid"}],
        "currentStatus": "review",
    }


def test_a_service_error_without_a_slug_takes_its_status_type():
    response = problem_exception_handler(ServiceError("GONE_NOW", "Gone.", 410), {"request": None})
    assert (response.status_code, response.data["type"]) == (410, PROBLEM_BASE + "gone")
    assert "errors" not in response.data


# --- Each app's refusal through the API ----------------------------------------------------


def test_a_session_refusal_is_its_problem(api, workflows):
    created = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-9"},
        format="json",
    ).json()
    response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{created['sessionId']}/submit")
    problem = response.json()
    assert response.status_code == 422
    assert problem["type"] == PROBLEM_BASE + "files-missing"
    assert (problem["code"], problem["title"]) == ("FILES_MISSING", "Validation error")
    assert problem["detail"] == "0 file(s) uploaded; this workflow needs at least 1."


def test_a_submission_refusal_is_its_problem_with_the_current_status(api, company):
    cancelled = factories.SubmissionFactory(company=company, status=S.CANCELLED)
    response = api.post(f"/api/v1/submissions/{cancelled.pk}/approve")
    problem = response.json()
    assert response.status_code == 409
    assert problem["type"] == PROBLEM_BASE + "invalid-status-transition"
    assert (problem["code"], problem["currentStatus"]) == ("SUBMISSION_IS_CANCELLED", "cancelled")
    assert problem["detail"] == "A cancelled submission cannot be approved."


def test_a_fraud_refusal_is_its_problem(api, company):
    later = submission_with_file(company)
    match = flag(later, factories.SubmissionFactory(company=company, status=S.APPROVED))
    url = f"/api/v1/submissions/{later.pk}/fraud-matches/{match.pk}/resolve"
    assert api.post(url, {"resolution": "false_positive"}, format="json").status_code == 200
    response = api.post(url, {"resolution": "confirmed_fraud"}, format="json")
    problem = response.json()
    assert response.status_code == 409
    assert problem["type"] == PROBLEM_BASE + "conflict"
    assert (problem["code"], problem["currentStatus"]) == ("FRAUD_MATCH_ALREADY_RESOLVED", "review")


def test_a_webhook_refusal_is_its_problem_naming_the_field(api):
    response = api.post("/api/v1/webhook-endpoints", {"url": " ", "events": []}, format="json")
    problem = response.json()
    assert response.status_code == 422
    assert (problem["type"], problem["code"]) == (PROBLEM_BASE + "validation-error", "INVALID_URL")
    assert problem["errors"] == [
        {"field": "url", "message": "url is required.", "code": "invalid_url"}
    ]


def test_a_correction_refusal_names_each_invalid_field(api, company):
    waiting = factories.SubmissionFactory(company=company)
    response = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"totalAmount": "twelve", "nope": 1}},
        format="json",
    )
    problem = response.json()
    assert response.status_code == 422 and problem["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in problem["errors"]] == ["fields.totalAmount", "fields.nope"]
    assert problem["detail"].startswith("fields.totalAmount: Invalid value: ")


# --- The same failure on the review desk ---------------------------------------------------


def _shows(html: str, problem: dict) -> bool:
    """The page's refusal carries the API's code and says the API's detail."""
    return f'data-code="{problem["code"]}"' in html and escape(problem["detail"]) in html


def test_an_approval_refused_for_open_matches_reads_the_same_on_the_desk(api, ui, company):
    api_side = submission_with_file(company)
    desk_side = submission_with_file(company)
    for submission in (api_side, desk_side):
        flag(submission, factories.SubmissionFactory(company=company, status=S.APPROVED))
    problem = api.post(f"/api/v1/submissions/{api_side.pk}/approve").json()
    assert problem["code"] == "UNRESOLVED_FRAUD_MATCHES"
    page = ui.post(
        reverse("review:approve", args=[desk_side.pk]),
        {"version": desk_side.version},
        follow=True,
    )
    assert page.redirect_chain[0][1] == 303 and _shows(page.content.decode(), problem)


def test_a_stale_correction_reads_the_same_on_the_desk(api, ui, company):
    waiting = submission_with_file(company)
    stale = waiting.version + 1
    problem = api.post(
        f"/api/v1/submissions/{waiting.pk}/corrections",
        {"fields": {"merchantName": "Kedai Baru"}, "expectedVersion": stale},
        format="json",
    ).json()
    assert problem["code"] == "SUBMISSION_CHANGED"
    response = ui.post(
        reverse("review:correct", args=[waiting.pk]),
        {"version": stale, "field": "merchantName", "value": "Kedai Baru"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == problem["status"] == 409
    assert _shows(response.content.decode(), problem)


def test_a_second_resolution_reads_the_same_in_the_fraud_panel(api, ui, company):
    later = submission_with_file(company)
    match = flag(later, factories.SubmissionFactory(company=company, status=S.APPROVED))
    url = f"/api/v1/submissions/{later.pk}/fraud-matches/{match.pk}/resolve"
    api.post(url, {"resolution": "false_positive"}, format="json")
    problem = api.post(url, {"resolution": "false_positive"}, format="json").json()
    assert problem["code"] == "FRAUD_MATCH_ALREADY_RESOLVED"
    later.refresh_from_db()
    response = ui.post(
        reverse("fraud:resolve", args=[later.pk, match.pk]),
        {"version": later.version, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409 and _shows(response.content.decode(), problem)


def test_an_invalid_comment_is_shown_with_its_code(ui, company):
    waiting = submission_with_file(company)
    response = ui.post(
        reverse("review:comment", args=[waiting.pk]), {"text": "  "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-code="VALIDATION_ERROR"' in html and "Write something to comment." in html


def test_a_plain_form_post_to_the_fraud_panel_says_the_code_too(api, ui, company):
    later = submission_with_file(company)
    match = flag(later, factories.SubmissionFactory(company=company, status=S.APPROVED))
    url = f"/api/v1/submissions/{later.pk}/fraud-matches/{match.pk}/resolve"
    api.post(url, {"resolution": "false_positive"}, format="json")
    later.refresh_from_db()
    page = ui.post(
        reverse("fraud:resolve", args=[later.pk, match.pk]),
        {"version": later.version, "resolution": "false_positive"},
        follow=True,
    )
    html = page.content.decode()
    assert "already resolved as false_positive. (FRAUD_MATCH_ALREADY_RESOLVED)" in html
