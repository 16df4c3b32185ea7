"""Every bad input found by fuzzing is a 4xx problem with a code, never a 500."""

import io
import json
import tracemalloc

import pytest
from django.urls import reverse
from PIL import Image

from jobs.models import WorkflowSession
from steve.api.parsers import BodyRefused, check_json
from submissions.pages import PDF_MAX_PIXELS
from tests import factories
from tests.jobs.test_sessions_api import create
from tests.submissions.test_review_support import stored_file
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"


def post_raw(api, path: str, body: str):
    return api.generic("POST", path, body.encode(), content_type="application/json")


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def session_body(**fields) -> dict:
    return {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c-1", **fields}


@pytest.mark.parametrize("content_types", [[["image/jpeg"]], [{}]])
def test_content_types_of_the_wrong_type_are_a_422(api, workflows, content_types):
    status, body, _ = create(api, contentTypes=content_types)
    assert status == 422
    assert body["errors"][0]["field"] == "contentTypes[0]"


def test_a_lone_surrogate_in_client_submission_id_is_a_400_invalid_unicode(api, workflows):
    response = post_raw(api, SESSIONS, json.dumps(session_body(clientSubmissionId="\ud800")))
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_UNICODE"
    assert response.json()["errors"][0]["field"] == "clientSubmissionId"


def test_a_lone_surrogate_in_metadata_is_a_400_invalid_unicode(api, workflows):
    body = json.dumps(session_body(metadata={"note": "a\udfffb"}))
    response = post_raw(api, SESSIONS, body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_UNICODE"
    assert "NUL" not in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "metadata.note"


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("clientSubmissionId", {"clientSubmissionId": "order\u202egnp.exe"}),
        ("externalUser.name", {"externalUser": {"name": "Ann\x07"}}),
        ("metadata.note", {"metadata": {"note": "zw\u200bsp"}}),
        ("metadata.order.\u202ekey", {"metadata": {"order": {"\u202ekey": "1"}}}),
    ],
)
def test_a_control_or_bidi_character_in_shown_session_text_is_a_422(api, workflows, field, body):
    response = post_raw(api, SESSIONS, json.dumps(session_body(**body)))
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not WorkflowSession.objects.exists()


def test_metadata_size_counts_a_character_beyond_ascii_as_its_utf8_bytes(api, workflows):
    # 1,300 CJK characters: 3,900 UTF-8 bytes, under the 4,096 limit (7,800 as escapes).
    body = session_body(metadata={"note": "\u5e97" * 1300})
    assert post_raw(api, SESSIONS, json.dumps(body)).status_code == 201
    body = session_body(clientSubmissionId="order-2", metadata={"note": "\u5e97" * 1400})
    assert post_raw(api, SESSIONS, json.dumps(body)).status_code == 422


def test_metadata_text_may_run_over_lines(api, workflows):
    body = session_body(metadata={"note": "Line one\nLine two\tend"})
    response = post_raw(api, SESSIONS, json.dumps(body))
    assert response.status_code == 201, response.content


def test_a_lone_surrogate_in_a_key_is_a_400(api, workflows):
    response = post_raw(api, SESSIONS, '{"\\ud800": 1}')
    assert response.json()["code"] == "INVALID_UNICODE"
    assert response.json()["errors"][0]["field"] == "\\ud800"


def deep_targets(api, company) -> dict[str, str]:
    submission = factories.SubmissionFactory(company=company, status="review")
    return {
        "create session": SESSIONS,
        "reject": f"/api/v1/submissions/{submission.pk}/reject",
        "cancel": f"/api/v1/submissions/{submission.pk}/cancel",
        # Its own parser (numbers read exactly) keeps the depth bound.
        "corrections": f"/api/v1/submissions/{submission.pk}/corrections",
        "webhook endpoints": "/api/v1/webhook-endpoints",
        "extraction jobs": "/api/v1/extraction-jobs",
    }


@pytest.mark.parametrize(
    "target",
    ["create session", "reject", "cancel", "corrections", "webhook endpoints", "extraction jobs"],
)
@pytest.mark.parametrize("levels", [50, 5000, 100_000])
def test_json_nested_too_deep_is_a_400_on_every_endpoint(api, workflows, company, target, levels):
    path = deep_targets(api, company)[target]
    response = post_raw(api, path, nested(levels))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "JSON_TOO_DEEP"


def test_a_member_given_twice_is_a_400_and_the_stale_version_check_is_not_bypassed(api, company):
    """json kept the last of two same-named members: `"expectedVersion": 1, ...,
    "expectedVersion": null` read as no version at all, and the correction was stored over
    a submission changed since the caller read it (which reader of the body sees which
    value is anyone's guess, so neither is chosen)."""
    submission = factories.SubmissionFactory(company=company, status="review", version=3)
    body = '{"fields": {"merchantName": "Other"}, "expectedVersion": 1, "expectedVersion": null}'
    response = post_raw(api, f"/api/v1/submissions/{submission.pk}/corrections", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_JSON"
    assert response.json()["errors"] == [
        {
            "field": "expectedVersion",
            "message": "The member is given more than once.",
            "code": "repeated",
        }
    ]
    submission.refresh_from_db()
    assert submission.extracted_data["merchantName"] == "Kedai Runcit"
    assert submission.version == 3


@pytest.mark.parametrize("target", ["create session", "reject", "corrections", "extraction jobs"])
def test_a_repeated_member_is_named_where_it_is_on_every_endpoint(api, workflows, company, target):
    path = deep_targets(api, company)[target]
    response = post_raw(api, path, '{"metadata": {"a": {"orderId": "1", "orderId": "2"}}}')
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_JSON"
    assert [e["field"] for e in response.json()["errors"]] == ["metadata.a.orderId"]
    assert not WorkflowSession.objects.exists()


def test_the_same_name_in_sibling_objects_is_not_a_repeat(api, workflows):
    status, body, _ = create(api, metadata={"a": {"id": "1"}, "b": {"id": "2"}})
    assert status == 201, body


def _walk_peak(body) -> int:
    """The most memory check_json held at once walking ``body`` (the body itself aside)."""
    tracemalloc.start()
    try:
        check_json(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_checking_a_body_of_millions_of_values_holds_its_depth_not_its_size():
    """A 24-MB body (under the 25-MB cap) of twelve million numbers held ~1.6 GB of the
    web worker for ~30 s as the check spelt and kept a path for each value, before the
    view refused it as no JSON object; an array of millions of `{}`, ~60 s.

    Shown on ten times as many values, not millions: walking them is what costs (a
    million took ~10 s under tracemalloc), and what is held must not grow with them at
    all. The old walk held ~125 bytes a value (~11 MB more for the larger bodies here);
    the walk holds a few hundred bytes whatever the size."""
    for shape in (lambda n: [1] * n, lambda n: [{}] * n):
        small = _walk_peak(shape(10_000))
        large = _walk_peak(shape(100_000))
        assert large < 100_000, (small, large)
        assert large < small + 10_000, (small, large)  # 90,000 more values, not 0.1 byte each


def test_a_refused_value_deep_in_a_large_body_is_still_named_where_it_is():
    body = {"metadata": {"lines": [{"note": "ok"}] * 1000 + [{"note": "a\ud800"}]}}
    with pytest.raises(BodyRefused) as refused:
        check_json(body)
    assert refused.value.errors[0]["field"] == "metadata.lines[1000].note"
    with pytest.raises(BodyRefused) as refused:
        check_json([[1, [2, {"x\x00": 1}]]])
    assert refused.value.errors[0]["field"] == "[0][1][1].x\x00"


def test_json_within_the_depth_limit_is_parsed(api, workflows):
    metadata = {"a": {"b": "c"}}
    status, _, _ = create(api, metadata=metadata)
    assert status == 201


@pytest.mark.parametrize("mode", [{}, {"mode": "poll"}, ["poll"], 7])
def test_extraction_job_with_a_delivery_mode_not_a_string_is_a_400(api, workflows, mode):
    response = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "receipt-ocr", "deliveryMode": mode},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DELIVERY_MODE"


def test_extraction_job_with_a_top_level_array_is_a_400(api, workflows):
    response = post_raw(api, "/api/v1/extraction-jobs", '[{"templateName": "receipt-ocr"}]')
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_BODY"  # as everywhere in the API


def test_redeliver_since_an_impossible_date_is_a_422(api, company, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    endpoint, _ = endpoint_create(company=company, url="http://127.0.0.1:9/hook")
    response = api.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver",
        {"since": "2026-13-25T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "since"


def test_external_user_longer_than_256_characters_is_a_422(api, workflows):
    status, body, _ = create(api, externalUser={"id": "u-1", "name": "x" * 257})
    assert status == 422
    assert body["errors"][0]["field"] == "externalUser.name"
    assert body["errors"][0]["code"] == "max_length"
    assert create(api, externalUser={"id": "u-1", "name": "x" * 256})[0] == 201


def test_chunked_upload_without_content_length_is_a_411(api, workflows):
    _, body, _ = create(api)
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "JPEG")
    response = api.generic(
        "PUT",
        path,
        buffer.getvalue(),
        content_type="image/jpeg",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert response.json()["code"] == "LENGTH_REQUIRED"


def huge_page_pdf(points: int) -> bytes:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    document.new_page(points, points)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def test_a_9000_point_pdf_page_renders_under_the_pixel_cap(ui, company):
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=huge_page_pdf(9000))
    response = ui.get(reverse("review:file_page", args=[submission.pk, 0, 0]))
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert image.width * image.height <= PDF_MAX_PIXELS
    assert image.width > 3000  # scaled down, not refused


def test_a_metadata_integer_no_double_can_hold_is_a_422_and_a_large_order_number_is_kept(
    api, workflows
):
    huge = '{"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "o-1", '
    huge += '"metadata": {"order": {"n": 1' + "0" * 400 + "}}}"
    response = post_raw(api, SESSIONS, huge)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0] == {
        "field": "metadata.order.n",
        "message": "metadata numbers must be below 1e308.",
        "code": "too_large",
    }
    body = session_body(clientSubmissionId="o-2", metadata={"order": 1234567890123456789012})
    assert post_raw(api, SESSIONS, json.dumps(body)).status_code == 201


def test_metadata_numbers_count_at_the_size_they_are_stored_and_served(api, workflows):
    # PostgreSQL keeps a JSON number as a decimal written out in full: 1e308 is read back
    # as 309 digits, 1e-300 as 302 characters. Counted as sent, 40 of them (about 500
    # bytes) passed the 4096-byte limit and were stored, served and sent in every webhook
    # as 12 KB.
    many = {f"k{index}": 1e308 if index % 2 else 1e-300 for index in range(40)}
    body = session_body(clientSubmissionId="m-1", metadata=many)
    assert len(json.dumps(many, separators=(",", ":"))) < 4096
    response = post_raw(api, SESSIONS, json.dumps(body))
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {
            "field": "metadata",
            "message": "metadata must be at most 4096 bytes.",
            "code": "too_large",
        }
    ]
    assert not WorkflowSession.objects.exists()
    # A few such numbers still fit, and what is served stays within the limit.
    body = session_body(clientSubmissionId="m-2", metadata={"big": 1e308, "small": 1e-300})
    created = post_raw(api, SESSIONS, json.dumps(body))
    assert created.status_code == 201, created.content
    served = api.get(f"/api/v1/submissions/{created.json()['submissionId']}").json()["metadata"]
    # The same numbers, read as doubles (a JSON reader's): served written out in full.
    assert {key: float(value) for key, value in served.items()} == {"big": 1e308, "small": 1e-300}
    assert len(json.dumps(served, separators=(",", ":")).encode()) <= 4096


@pytest.mark.parametrize(("email", "status"), [("not-an-email", 422), ("ann@example.com", 201)])
def test_an_external_users_email_must_be_an_email_address(api, workflows, email, status):
    body = session_body(externalUser={"id": "u1", "email": email})
    response = post_raw(api, SESSIONS, json.dumps(body))
    assert response.status_code == status, response.content
    if status == 422:
        assert response.json()["errors"][0]["field"] == "externalUser.email"


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"": "x"}, "metadata."),
        ({"order": {"": 1}}, "metadata.order."),
        ({" ": "x"}, "metadata. "),
        ({"\u3000": "x"}, "metadata.\u3000"),  # an ideographic space
    ],
)
def test_a_metadata_key_with_nothing_to_show_is_a_422_and_stores_nothing(
    api, workflows, metadata, field
):
    # Stored and sent in every webhook, a value under no name: the review page listed it
    # beside an empty label, and `metadata.` named nothing an integrator could look up.
    response = post_raw(api, SESSIONS, json.dumps(session_body(metadata=metadata)))
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, "blank")]
    assert not WorkflowSession.objects.exists()
