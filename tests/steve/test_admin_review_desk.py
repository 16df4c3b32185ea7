"""Admin changes of the review desk's second pass: checked workflow versions, a
read-only Submission, no hand-made events, findable deliveries, revoke that asks."""

import html
import json

import pytest
from django.urls import reverse

from jobs.defaults import kind_defaults
from steve.models import ApiKey, WorkflowVersion
from steve.services import api_key_revoke
from steve.workflow_rules import output_schema_errors
from submissions.models import Submission, SubmissionEvent
from tests import factories
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
ADD_VERSION = "admin:steve_workflowversion_add"


def version_post(workflow_id: str, **overrides: object) -> dict[str, object]:
    base = kind_defaults("invoice")
    data = {
        "workflow": workflow_id,
        "kind": base["kind"],
        "upload": json.dumps(base["upload"]),
        "output_schema": json.dumps(base["output_schema"]),
        "review_threshold": "70",
        "fraud_policy": "",
        "sync_url": "",
    }
    return {**data, **overrides}


def test_a_new_version_form_starts_from_the_kinds_defaults(operator, workflows):
    workflow = workflows[0].workflow
    page = operator.get(reverse(ADD_VERSION), {"workflow": workflow.pk, "kind": "invoice"})
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["upload"] == kind_defaults("invoice")["upload"]
    assert form.initial["output_schema"]["properties"]
    assert '"acceptedFormats": [' in html.unescape(page.content.decode())  # indented JSON


def test_a_checked_version_is_published_as_the_next_version(operator, workflows):
    workflow = workflows[0].workflow
    before = workflow.latest.version
    response = operator.post(reverse(ADD_VERSION), version_post(workflow.pk))
    assert response.status_code == 302
    workflow.refresh_from_db()
    latest = workflow.versions.order_by("-version").first()
    assert latest.version == before + 1 and latest.kind == "invoice"
    assert latest.review_threshold == 70 and latest.fraud_policy == {}
    assert latest.accepted_mime_types  # it can accept a file


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("upload", {"maxFiles": 2}, "acceptedFormats"),
        ("upload", {"minFiles": 3, "maxFiles": 2, "acceptedFormats": ["pdf"]}, "minFiles is above"),
        ("upload", {"minFiles": 1, "maxFiles": 2, "acceptedFormats": ["docx"]}, "docx"),
        ("upload", {"minFiles": 1, "maxFiles": 2, "acceptedFormats": []}, "should be non-empty"),
        ("output_schema", {"type": "array"}, "Output schema"),
        ("output_schema", {"type": "object", "properties": {}}, "Output schema"),
        ("output_schema", {"type": "object", "properties": {"a": {"type": 5}}}, "not valid"),
        (
            "output_schema",
            {
                "type": "object",
                "$defs": {"money": {"type": "number"}},
                "properties": {"total": {"anyOf": [{"$ref": "#/$defs/money"}]}},
            },
            "cannot use $ref",
        ),
        (
            "output_schema",
            {"type": "object", "properties": {"n": {"type": "string", "pattern": "^(a)\\1$"}}},
            "cannot be matched in bounded time",
        ),
        ("output_schema", {"type": "object", "properties": {"": {}}}, "1 to 100 characters"),
        (
            "output_schema",
            {
                "type": "object",
                "properties": {"lineItems": {"items": {"properties": {"sku\n": {}}}}},
            },
            "Output schema: lineItems.items.properties.",
        ),
    ],
)
def test_an_unusable_version_cannot_be_saved(operator, workflows, field, value, message):
    workflow = workflows[0].workflow
    count = WorkflowVersion.objects.count()
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, **{field: json.dumps(value)})
    )
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    assert WorkflowVersion.objects.count() == count


def test_an_output_schema_above_256_kb_of_json_cannot_be_saved(operator, workflows):
    """The schema is read at every submit and review and served whole by getWorkflow:
    the form took up to 25 MB of it (the request body limit)."""
    workflow = workflows[0].workflow
    count = WorkflowVersion.objects.count()
    schema = {**kind_defaults("invoice")["output_schema"], "description": "x" * 300_000}
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, output_schema=json.dumps(schema))
    )
    assert response.status_code == 200
    assert "256 KB" in str(response.context["adminform"].form.errors["output_schema"])
    assert WorkflowVersion.objects.count() == count


def test_an_output_schema_under_the_size_limit_is_saved(operator, workflows):
    workflow = workflows[0].workflow
    schema = {**kind_defaults("invoice")["output_schema"], "description": "x" * 200_000}
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, output_schema=json.dumps(schema))
    )
    assert response.status_code == 302
    assert workflow.versions.order_by("-version").first().output_schema == schema


def test_the_default_output_schemas_are_far_below_the_size_limit():
    for kind in ("receipt", "invoice"):
        schema = kind_defaults(kind)["output_schema"]
        assert len(json.dumps(schema, separators=(",", ":")).encode()) < 256 * 1024 // 20
        assert output_schema_errors(schema) == []


def test_existing_versions_are_view_only(operator, workflows):
    version = workflows[0]
    url = reverse("admin:steve_workflowversion_change", args=[version.pk])
    assert operator.get(url).status_code == 200
    response = operator.post(url, version_post(version.workflow_id, review_threshold="5"))
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.review_threshold != 5


def test_submission_data_is_read_only_in_the_admin(operator, company):
    submission = factories.SubmissionFactory(company=company, extracted_data={"totalAmount": 5.0})
    url = reverse("admin:submissions_submission_change", args=[submission.pk])
    page = operator.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = operator.post(url, {"extracted_data": '{"totalAmount": 999}', "reject_reason": "x"})
    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.extracted_data == {"totalAmount": 5.0} and not submission.reject_reason
    assert operator.get(reverse("admin:submissions_submission_add")).status_code == 403


def test_submission_events_cannot_be_added_by_hand(operator, company):
    submission = factories.SubmissionFactory(company=company)
    assert operator.get(reverse("admin:submissions_submissionevent_add")).status_code == 403
    response = operator.post(
        reverse("admin:submissions_submissionevent_add"), {"submission": submission.pk}
    )
    assert response.status_code == 403
    assert not SubmissionEvent.objects.filter(submission=submission).exists()
    changelist = operator.get(reverse("admin:submissions_submissionevent_changelist"))
    assert b"Add submission event" not in changelist.content


def test_deliveries_are_found_by_submission_and_client_id(operator, company):
    def delivery(submission_id: str, client_id: str) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            company=company,
            url="https://example.com/hook",
            event_id=f"evt_{submission_id}",
            event_type="submission.approved",
            payload={"submissionId": submission_id, "clientSubmissionId": client_id},
        )

    wanted = delivery("sub_wanted", "order-41")
    other = delivery("sub_other", "order-99")
    changelist = reverse("admin:webhooks_webhookdelivery_changelist")
    for query in ["sub_wanted", "order-41"]:
        html = operator.get(changelist, {"q": query}).content.decode()
        assert wanted.pk in html and other.pk not in html, query


def test_revoke_asks_first_and_counts_only_the_keys_it_revoked(operator, company):
    active = factories.api_key(company, name="active").api_key
    old = api_key_revoke(api_key=factories.api_key(company, name="old").api_key)
    changelist = reverse("admin:steve_apikey_changelist")
    picked = {"action": "revoke", "_selected_action": [active.pk, old.pk]}
    confirm = operator.post(changelist, picked)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Revoke these API keys?" in html and f'data-revoke="{active.pk}"' in html
    assert f'data-revoke="{old.pk}"' not in html and "Already revoked" in html
    assert ApiKey.objects.get(pk=active.pk).revoked_at is None  # nothing happened yet

    done = operator.post(changelist, {**picked, "confirm": "yes"}, follow=True)
    assert "Revoked 1 key(s)." in [str(m) for m in done.context["messages"]]
    assert ApiKey.objects.get(pk=active.pk).revoked_at is not None


def test_the_admins_times_say_they_are_utc(operator, company):
    # Columns read "Dec. 6, 2026, 9:40 a.m." and a revoked key "2026-12-06 09:40": UTC
    # (TIME_ZONE) both, saying neither, beside the review desk's "… UTC".
    submission = factories.SubmissionFactory(company=company)
    changelist = operator.get(reverse("admin:submissions_submission_changelist"))
    assert f"{submission.created_at:%Y-%m-%d %H:%M:%S} UTC" in changelist.content.decode()
    page = operator.get(reverse("admin:submissions_submission_change", args=[submission.pk]))
    assert f"{submission.created_at:%Y-%m-%d %H:%M:%S} UTC" in page.content.decode()
    old = api_key_revoke(api_key=factories.api_key(company, name="old").api_key)
    picked = {"action": "revoke", "_selected_action": [old.pk]}
    confirm = operator.post(reverse("admin:steve_apikey_changelist"), picked)
    assert f"revoked {old.revoked_at:%Y-%m-%d %H:%M} UTC" in confirm.content.decode()


def test_a_workflow_links_to_a_checked_new_version(operator, workflows):
    workflow = workflows[0].workflow
    page = operator.get(reverse("admin:steve_workflow_change", args=[workflow.pk]))
    assert f"{reverse(ADD_VERSION)}?workflow={workflow.pk}" in page.content.decode()
    assert Submission.objects.count() == 0


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"flag_threshold": "abc"}, "flag_threshold: a number"),
        ({"visual": "false"}, "visual: true or false"),
        ({"flag_treshold": 40}, "flag_treshold: not a policy setting"),
        ({"local_max_candidates": 2.5}, "a whole number"),
        ({"block_threshold": -1}, "between 0 and"),
        # No JSON has them: refused as the form's JSON is read, as the API's is.
        ({"visual_strong_distance": float("nan")}, "not JSON compliant"),
        ({"visual_strong_distance": float("inf")}, "not JSON compliant"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_fraud_policy_the_checks_cannot_read_is_refused(operator, workflows, policy, message):
    workflow = workflows[0].workflow
    count = WorkflowVersion.objects.count()
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, fraud_policy=json.dumps(policy))
    )
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["fraud_policy"])
    assert WorkflowVersion.objects.count() == count


def test_a_valid_fraud_policy_is_saved_with_the_version(operator, workflows):
    workflow = workflows[0].workflow
    policy = {"flag_threshold": 40, "visual": False, "local_max_change": 0.03}
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, fraud_policy=json.dumps(policy))
    )
    assert response.status_code == 302
    assert workflow.versions.order_by("-version").first().fraud_policy == policy


def test_fraud_matches_and_files_cannot_be_deleted_in_the_admin(operator, company):
    from fraud.models import FraudMatch

    submission = factories.SubmissionFactory(company=company)
    file = factories.SubmissionFileFactory(submission=submission)
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        check_type="exact",
        score=100,
        similarity=1.0,
        status="block",
    )
    for model, obj in (("fraud_fraudmatch", match), ("submissions_submissionfile", file)):
        url = reverse(f"admin:{model}_delete", args=[obj.pk])
        assert operator.post(url, {"post": "yes"}).status_code == 403, model
        changelist = reverse(f"admin:{model}_changelist")
        operator.post(
            changelist, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
        )
        assert type(obj).objects.filter(pk=obj.pk).exists(), model


def test_a_session_cannot_be_edited_in_the_admin(operator, company, api_key, receipt_workflow):
    from jobs.models import WorkflowSession
    from jobs.services import SessionRequest, session_create

    other = factories.CompanyFactory()
    session, _ = session_create(
        api_key=api_key.api_key,
        version=receipt_workflow,
        request=SessionRequest(1, ["image/jpeg"], "admin-edit", {}, None, ""),
    )
    url = reverse("admin:jobs_workflowsession_change", args=[session.pk])
    assert operator.get(url).status_code == 200
    assert operator.post(url, {"company": other.pk}).status_code == 403
    assert WorkflowSession.objects.get(pk=session.pk).company_id == company.pk
    delete = reverse("admin:jobs_workflowsession_delete", args=[session.pk])
    assert operator.post(delete, {"post": "yes"}).status_code == 403
    assert operator.get(reverse("admin:jobs_workflowsession_add")).status_code == 403
    assert WorkflowSession.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/sync", "https://93.184.215.14:0/sync"])
def test_a_sync_url_the_sync_would_refuse_is_refused_when_publishing(operator, workflows, url):
    workflow = workflows[0].workflow
    count = WorkflowVersion.objects.count()
    response = operator.post(reverse(ADD_VERSION), version_post(workflow.pk, sync_url=url))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["sync_url"]
    assert WorkflowVersion.objects.count() == count


@pytest.mark.parametrize("threshold", ["0", "150"])
def test_a_threshold_out_of_range_is_a_field_error_not_a_database_one(
    operator, workflows, threshold
):
    workflow = workflows[0].workflow
    count = WorkflowVersion.objects.count()
    response = operator.post(
        reverse(ADD_VERSION), version_post(workflow.pk, review_threshold=threshold)
    )
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["review_threshold"])
    assert "from 1 to 99" in errors and "onstraint" not in errors
    assert WorkflowVersion.objects.count() == count


def test_a_workflow_keeps_its_company_and_slug(operator, workflows):
    from tests import factories

    workflow = workflows[0].workflow
    other = factories.CompanyFactory()
    url = reverse("admin:steve_workflow_change", args=[workflow.pk])
    posted = {
        "company": other.pk,
        "slug": "renamed",
        "name": workflow.name,
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    operator.post(url, posted)
    workflow.refresh_from_db()
    assert workflow.company_id != other.pk and workflow.slug != "renamed"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ('{"raed": 3}', "is no bucket (buckets: read,"),
        ('{"read": "5"}', "read: a whole number"),
        ('{"read": 0}', "read: a whole number"),
        ("[5]", "An object of bucket name"),
    ],
)
def test_a_companys_rate_limits_are_checked_in_the_admin(operator, company, limits, message):
    url = reverse("admin:steve_company_change", args=[company.pk])
    posted = {
        "name": company.name,
        "slug": company.slug,
        "rate_limits": limits,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    response = operator.post(url, posted)
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["rate_limits"])
    operator.post(url, {**posted, "rate_limits": '{"read": 600}'})
    company.refresh_from_db()
    assert company.rate_limits == {"read": 600}
