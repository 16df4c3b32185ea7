"""The admin works for an operator: every model's pages render; keys are shown once."""

import copy
import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from fraud.models import FraudMatch
from jobs.models import SessionState, WorkflowSession
from steve import admin as steve_admin
from steve import services as steve_services
from steve.admin import ApiKeyAdmin
from steve.admin_site import EstimatedCountPaginator
from steve.errors import ServiceError, invalid
from steve.middleware import CONTENT_SECURITY_POLICY
from steve.models import (
    ApiKey,
    Company,
    IdempotencyKey,
    Membership,
    OutboxMessage,
    Workflow,
    WorkflowVersion,
)
from steve.secret_once import REQUEST_ATTRIBUTE
from steve.services import api_key_digest, api_key_revoke, workflow_publish
from submissions.models import Submission, SubmissionEvent, SubmissionFile
from tests.factories import (
    CompanyFactory,
    SubmissionFactory,
    SubmissionFileFactory,
    UserFactory,
    api_key,
    default_workflows,
    many_submissions,
    member,
)
from tests.secret_checks import assert_only_in_the_body, shown_secrets
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_every_registered_model_has_working_list_and_add_pages(operator, company):
    SubmissionFactory(company=company)
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = operator.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert changelist.status_code == 200, meta.label
        if model_admin.has_add_permission(changelist.wsgi_request):
            add_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
            assert operator.get(add_url).status_code == 200, meta.label
            # An empty form is refused with a message, never a 500 (read-only fields made
            # an IntegrityError of it).
            assert operator.post(add_url, {}).status_code in (200, 302), meta.label


def test_submission_search_by_client_id_and_event_history(operator, company):
    submission = SubmissionFactory(company=company, client_submission_id="order-777")
    found = operator.get(reverse("admin:submissions_submission_changelist"), {"q": "order-777"})
    assert submission.pk in found.content.decode()
    page = operator.get(reverse("admin:submissions_submission_change", args=[submission.pk]))
    assert page.status_code == 200


def test_api_key_created_in_the_admin_is_shown_once_never_in_a_cookie(operator, company):
    response = operator.post(
        reverse("admin:steve_apikey_add"),
        {"company": company.pk, "name": "from admin", "environment": "production"},
    )
    (secret,) = shown_secrets(response)
    assert_only_in_the_body(response, secret)
    key = ApiKey.objects.get(name="from admin")
    assert key.digest == api_key_digest(secret)
    again = operator.get(reverse("admin:steve_apikey_change", args=[key.pk]))
    assert secret not in again.content.decode()


def test_the_workflow_version_list_takes_a_bounded_number_of_queries(
    operator, django_assert_max_num_queries
):
    for _ in range(30):
        default_workflows(CompanyFactory())
    # A version is named by its workflow, and a workflow with its company: was a query a row.
    with django_assert_max_num_queries(15):
        page = operator.get(reverse("admin:steve_workflowversion_changelist"))
    assert page.status_code == 200


def test_the_add_version_page_takes_a_bounded_number_of_queries(
    operator, django_assert_max_num_queries
):
    for _ in range(30):
        default_workflows(CompanyFactory())
    # Every workflow is a choice, named with its company: was a query per workflow.
    with django_assert_max_num_queries(15):
        page = operator.get(reverse("admin:steve_workflowversion_add"))
    assert page.status_code == 200


@pytest.mark.parametrize("keys", [2, 20])
def test_the_idempotency_key_list_takes_as_many_queries_for_many_keys_as_for_few(
    operator, company, keys, django_assert_max_num_queries
):
    # Each row names its API key (a nullable foreign key, which the admin's automatic join
    # leaves out): was a query a row, on a table that holds every keyed POST of a day.
    used_by = api_key(company).api_key
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(company=company, api_key=used_by, key=f"k{n}", fingerprint="f" * 64)
        for n in range(keys)
    )
    with django_assert_max_num_queries(6):
        page = operator.get(reverse("admin:steve_idempotencykey_changelist"))
    assert page.status_code == 200
    assert page.content.decode().count(str(used_by)) == keys


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:steve_idempotencykey_changelist",
        "admin:axes_accesslog_changelist",
        "admin:axes_accessfailurelog_changelist",
        "admin:axes_accessattempt_changelist",
    ],
)
def test_lists_of_tables_that_grow_with_use_count_their_rows_once_a_page(operator, changelist):
    # Keys of every keyed POST of a day, and every sign-in ever made: counting the whole
    # table beside the page's own count doubled the page's cost on the largest of them.
    with CaptureQueriesContext(connection) as done:
        page = operator.get(reverse(changelist))
    assert page.status_code == 200
    assert len([query for query in done if "COUNT(" in query["sql"]]) == 1


def test_renaming_a_key_in_the_admin_keeps_a_revocation_made_meanwhile(
    operator, company, monkeypatch
):
    key = api_key(company).api_key
    posted = ApiKeyAdmin.save_form

    def revoked_by_another_operator_meanwhile(admin_, request, form, change):
        api_key_revoke(api_key=ApiKey.objects.get(pk=key.pk))
        return posted(admin_, request, form, change)

    # The rename's form holds the key as read before the revocation: a plain save wrote
    # that back, and the revoked key worked again.
    monkeypatch.setattr(ApiKeyAdmin, "save_form", revoked_by_another_operator_meanwhile)
    response = operator.post(
        reverse("admin:steve_apikey_change", args=[key.pk]), {"name": "renamed"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "renamed" and key.revoked_at is not None


def test_rate_limits_nested_too_deep_are_the_forms_error_not_a_500(operator, company):
    response = operator.post(
        reverse("admin:steve_company_change", args=[company.pk]),
        {
            "name": company.name,
            "slug": company.slug,
            "rate_limits": "[" * 5000 + "]" * 5000,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "nests deeper than 32 levels" in response.content.decode()


def test_a_workflow_added_in_the_admin_is_not_found_by_the_api_until_it_has_a_version(
    operator, company, api
):
    added = operator.post(
        reverse("admin:steve_workflow_add"),
        {
            "company": company.pk,
            "slug": "bare",
            "name": "Bare",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    # Named as the slug is written: the admin capitalises a message's first letter, and
    # one beginning with the slug said "Bare", which no integrator's call would find.
    assert "Workflow bare has no version yet" in added.content.decode()
    default_workflows(company)  # the company has templates: "bare" is looked up by name
    session = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "a-1"}
    # Each read the workflow's latest version, None, and answered 500.
    answers = [
        api.get("/api/v1/workflows/bare"),
        api.post("/api/v1/workflows/bare/sessions", session, format="json"),
        api.post("/api/v1/extraction-jobs", {"templateName": "bare"}, format="json"),
    ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]


def queued_task_and_used_idempotency_key(company) -> tuple[OutboxMessage, IdempotencyKey]:
    message = OutboxMessage.objects.create(task="jobs.tasks.process_session", args=["s_1"])
    used = IdempotencyKey.objects.create(
        company=company,
        api_key=api_key(company).api_key,
        key="retry-me",
        fingerprint="f" * 64,
        state=IdempotencyKey.State.DONE,
        response_status=201,
        response_body='{"id": "s_1"}',
    )
    return message, used


@pytest.mark.parametrize("model", [OutboxMessage, IdempotencyKey])
def test_outbox_messages_and_idempotency_keys_cannot_be_deleted_or_changed_in_the_admin(
    operator, company, model
):
    # Deleting a queued task dropped it until the sweep; deleting a used key let a retried
    # POST run twice. Both are the machinery's rows: purged by their own sweeps only.
    message, used = queued_task_and_used_idempotency_key(company)
    row = message if model is OutboxMessage else used
    meta = model._meta
    page = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[row.pk])
    assert operator.post(page, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    operator.post(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), bulk)
    assert model.objects.filter(pk=row.pk).exists()
    change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk])
    assert operator.post(change, {"args": "[]", "state": "in_flight"}).status_code == 403
    shown = operator.get(change)
    assert shown.status_code == 200 and b'name="_save"' not in shown.content


def refusal_shown(page) -> str:
    assert page.status_code == 200
    body = page.content.decode()
    # A superuser was told their account lacked a permission nobody has.
    assert "permission" not in body
    return " ".join(body.split())


def test_deleting_a_workflow_with_submissions_says_why_and_deletes_nothing(operator, company):
    workflow = SubmissionFactory(company=company).workflow
    page = reverse("admin:steve_workflow_delete", args=[workflow.pk])
    said = refusal_shown(operator.get(page))
    assert "This workflow has 1 workflow version and 1 submission; it cannot be deleted." in said
    refusal_shown(operator.post(page, {"post": "yes"}))
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_a_workflow_created_by_mistake_without_versions_can_be_deleted(operator, company):
    mistake = Workflow.objects.create(company=company, slug="oops", name="Oops")
    page = reverse("admin:steve_workflow_delete", args=[mistake.pk])
    assert operator.post(page, {"post": "yes"}).status_code == 302
    assert not Workflow.objects.filter(pk=mistake.pk).exists()


def test_deleting_a_company_with_submissions_says_why_and_deletes_nothing(operator, company):
    SubmissionFactory(company=company)
    page = reverse("admin:steve_company_delete", args=[company.pk])
    said = refusal_shown(operator.post(page, {"post": "yes"}))
    # Counted at the top: the submission's own events and files go without saying.
    assert "This company has 2 workflow versions and 1 submission; it cannot be deleted." in said
    assert Company.objects.filter(pk=company.pk).exists()


def test_refusing_to_delete_a_company_of_thousands_of_submissions_reads_none_of_them(operator):
    company = many_submissions(2000, companies=1)[0].company
    read = Counter()

    def count(sender: type, **kwargs: object) -> None:
        read[sender] += 1

    # The refusal was counted by collecting every row a deletion would reach, all their
    # columns: the company's submissions, their events, files, matches and fingerprints,
    # millions of rows in one request for a real company, to say "it cannot be deleted".
    post_init.connect(count)
    try:
        said = refusal_shown(operator.get(reverse("admin:steve_company_delete", args=[company.pk])))
    finally:
        post_init.disconnect(count)
    assert "This company has 2000 submissions and 2 workflow versions; it cannot be" in said
    assert read[Submission] == read[SubmissionEvent] == read[FraudMatch] == 0


def test_deleting_selected_workflows_names_each_one_kept_and_deletes_none(operator, company):
    kept = SubmissionFactory(company=company).workflow
    mistake = Workflow.objects.create(company=company, slug="oops", name="Oops")
    bulk = {"action": "delete_selected", "_selected_action": [kept.pk, mistake.pk], "post": "yes"}
    said = refusal_shown(operator.post(reverse("admin:steve_workflow_changelist"), bulk))
    assert f"{kept} has 1 workflow version and 1 submission." in said
    assert str(mistake) not in said
    assert Workflow.objects.filter(pk__in=[kept.pk, mistake.pk]).count() == 2


def kept_rows(model: type, count: int) -> list:
    """`count` rows of `model` (a company, a workflow, an API key) each kept by what
    depends on it: a submission, a workflow session."""
    submissions = many_submissions(count, companies=count)
    if model is Company:
        return [submission.company for submission in submissions]
    if model is Workflow:
        return [submission.workflow for submission in submissions]
    keys = [api_key(submission.company).api_key for submission in submissions]
    WorkflowSession.objects.bulk_create(
        WorkflowSession(
            company=submission.company,
            api_key=key,
            environment=key.environment,
            workflow_version=submission.workflow_version,
            submission=submission,
            state=SessionState.SUBMITTED,
            client_submission_id=f"c-{n}",
            file_count=1,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        for n, (key, submission) in enumerate(zip(keys, submissions, strict=True))
    )
    return keys


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Company, "has 2 workflow versions and 1 submission."),
        (Workflow, "has 1 workflow version and 1 submission."),
        (ApiKey, "has 1 workflow session."),
    ],
)
def test_refusing_to_delete_many_selected_rows_costs_the_queries_of_one(
    operator, model, reason, django_assert_max_num_queries
):
    # Counted one row at a time, refusing 50 companies took ~450 queries (50 workflows
    # ~100, 50 keys ~50), before saying no, on the question and again on the Yes.
    rows = kept_rows(model, 50)
    meta = model._meta
    bulk = {"action": "delete_selected", "_selected_action": [row.pk for row in rows]}
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    for confirmed in ({}, {"post": "yes"}):
        with django_assert_max_num_queries(25):
            said = refusal_shown(operator.post(changelist, {**bulk, **confirmed}))
        # Each row is still named, with its own dependents, counted for it alone.
        assert said.count(reason) == 50
        assert all(f"{escape(str(row))} {reason}" in said for row in rows)
    assert model.objects.filter(pk__in=[row.pk for row in rows]).count() == 50


def test_deleting_an_api_key_that_opened_sessions_says_to_revoke_it(operator, company):
    key = api_key(company).api_key
    submission = SubmissionFactory(company=company)
    WorkflowSession.objects.create(
        company=company,
        api_key=key,
        environment=key.environment,
        workflow_version=submission.workflow_version,
        submission=submission,
        state=SessionState.SUBMITTED,
        client_submission_id="c-1",
        file_count=1,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    page = reverse("admin:steve_apikey_delete", args=[key.pk])
    said = refusal_shown(operator.post(page, {"post": "yes"}))
    assert "This API key has 1 workflow session; it cannot be deleted. Revoke it instead" in said
    assert ApiKey.objects.filter(pk=key.pk).exists()


HIDING_NAMES = ["ci\u202eyek", "ci\u200bkey", "\u2066ops\u2069", "ops\x1b[2K", "ops\u3164"]


@pytest.mark.parametrize("name", HIDING_NAMES)
def test_an_api_key_name_with_a_control_bidi_or_invisible_character_is_refused(company, name):
    # The name is shown as who acted (resolvedBy, event actors): one that reorders or
    # hides text could pass for another key or a person.
    with pytest.raises(ServiceError) as refused:
        api_key(company, name=name)
    assert refused.value.errors[0]["field"] == "name"
    assert not ApiKey.objects.filter(company=company).exists()


def test_an_api_key_name_an_emoji_needs_a_joiner_in_is_taken(company):
    assert api_key(company, name="ci \U0001f469\u200d\U0001f4bb").api_key.pk


@pytest.mark.parametrize("name", HIDING_NAMES)
def test_the_admin_refuses_a_hiding_api_key_name_as_a_form_error(operator, company, name):
    response = operator.post(
        reverse("admin:steve_apikey_add"),
        {"company": company.pk, "name": name, "environment": "production"},
    )
    assert response.status_code == 200
    assert "bidi formatting or invisible character" in response.content.decode()
    assert not ApiKey.objects.filter(company=company).exists()


def test_the_admin_refuses_renaming_a_key_to_a_hiding_name(operator, company):
    key = api_key(company, name="ci").api_key
    response = operator.post(
        reverse("admin:steve_apikey_change", args=[key.pk]), {"name": "c\u202ei"}
    )
    assert response.status_code == 200
    assert "bidi formatting or invisible character" in response.content.decode()
    key.refresh_from_db()
    assert key.name == "ci"


def test_revoking_every_key_asks_once_in_bounded_queries_and_revokes_only_those_shown(
    operator, company, django_assert_max_num_queries
):
    others = [CompanyFactory() for _ in range(3)]
    ApiKey.objects.bulk_create(
        ApiKey(company=others[i % 3], name=f"k{i}", prefix=f"sk_{i}", digest=f"{i:064d}")
        for i in range(1200)
    )
    changelist = reverse("admin:steve_apikey_changelist")
    selection = {"action": "revoke", "select_across": "1", "index": "0"}
    with django_assert_max_num_queries(20):
        asked = operator.post(changelist, {**selection, "_selected_action": ["x"]})
    assert asked.status_code == 200 and b"Yes, revoke 1200 keys" in asked.content
    form = asked.content.decode().split('<form method="post">')[1].split("</form>")[0]
    posted: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        posted.setdefault(name, []).append(value)
    # A key made after the question was shown is not revoked with those it listed.
    late = api_key(company, name="made meanwhile").api_key
    # The page posted one field per key: past 1,000, Django refused it (400) and nothing
    # could be revoked from the admin.
    done = operator.post(changelist, {**posted, "confirm": "yes"}, follow=True)
    assert done.status_code == 200
    assert not ApiKey.objects.filter(revoked_at__isnull=True).exclude(pk=late.pk).exists()
    assert ApiKey.objects.get(pk=late.pk).revoked_at is None
    assert "Revoked 1200 key(s)." in [str(m) for m in done.context["messages"]]


def test_the_yes_to_revoking_1200_keys_revokes_them_in_bounded_queries(
    operator, company, django_assert_max_num_queries
):
    # Each key was revoked on its own (an update, a read, a commit): 1,200 took 18 s on
    # the development server, near the web server's 30 s timeout that stops a request
    # half-way, with some keys revoked and none of them logged.
    keys = ApiKey.objects.bulk_create(
        ApiKey(company=company, name=f"k{i}", prefix=f"sk_{i}", digest=f"{i:064d}")
        for i in range(1200)
    )
    already = keys[0]
    ApiKey.objects.filter(pk=already.pk).update(revoked_at=timezone.now() - timedelta(days=1))
    posted = {
        "action": "revoke",
        "select_across": "1",
        "index": "0",
        "_selected_action": keys[1].pk,
        "keys": ",".join(key.pk for key in keys[1:]),
        "confirm": "yes",
    }
    with django_assert_max_num_queries(30):
        done = operator.post(reverse("admin:steve_apikey_changelist"), posted)
    assert done.status_code == 302
    assert not ApiKey.objects.filter(revoked_at__isnull=True).exists()
    assert ApiKey.objects.get(pk=already.pk).revoked_at < timezone.now() - timedelta(hours=23)
    assert LogEntry.objects.filter(change_message="Revoked.").count() == 1199


def _revoke_question(operator, keys: list[ApiKey]) -> dict[str, list[str]]:
    """Ask to revoke `keys`; returns what the question page posts on Yes."""
    changelist = reverse("admin:steve_apikey_changelist")
    asked = operator.post(
        changelist, {"action": "revoke", "_selected_action": [key.pk for key in keys]}
    )
    assert asked.status_code == 200
    form = asked.content.decode().split('<form method="post">')[1].split("</form>")[0]
    posted: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        posted.setdefault(name, []).append(value)
    return posted


def test_revoking_keys_in_the_admin_logs_each_one_under_the_operator_who_did(operator, company):
    keys = [api_key(company, name=f"k{i}").api_key for i in range(2)]
    posted = _revoke_question(operator, keys)
    operator.post(reverse("admin:steve_apikey_changelist"), {**posted, "confirm": "yes"})
    # No entry was written: the admin's history did not say who revoked a key.
    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(ApiKey))
    assert sorted((e.object_id, e.user.username, e.action_flag) for e in entries) == sorted(
        (str(key.pk), "ops", CHANGE) for key in keys
    )
    assert {e.get_change_message() for e in entries} == {"Revoked."}


def test_revoke_counts_and_logs_only_the_keys_it_revoked_not_those_revoked_meanwhile(
    operator, company, monkeypatch
):
    keys = [api_key(company, name=name).api_key for name in ("one", "two")]
    posted = _revoke_question(operator, keys)
    revoke = steve_admin.api_keys_revoke

    def another_operator_revokes_the_second_key_meanwhile(*, api_keys: list[ApiKey]) -> Any:
        # Once this action read the keys still active, another operator revokes one.
        ApiKey.objects.filter(pk=keys[1].pk).update(revoked_at=timezone.now())
        return revoke(api_keys=api_keys)

    monkeypatch.setattr(
        steve_admin, "api_keys_revoke", another_operator_revokes_the_second_key_meanwhile
    )
    done = operator.post(
        reverse("admin:steve_apikey_changelist"), {**posted, "confirm": "yes"}, follow=True
    )
    # Was "Revoked 2 key(s).": the key the other operator revoked counted as this one's.
    assert "Revoked 1 key(s)." in [str(m) for m in done.context["messages"]]
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [str(keys[0].pk)]


def test_a_workflows_page_lists_its_versions_without_their_schemas(operator, receipt_workflow):
    """Each version's whole output schema and upload rules were shown inline: ten
    versions of a 1-MB schema made an 11-MB page. Each is a link to its own page."""
    workflow = receipt_workflow.workflow
    schema = copy.deepcopy(receipt_workflow.output_schema)
    schema["properties"]["merchantName"]["description"] = "a-very-long-field-note " * 50
    version = workflow_publish(
        company=workflow.company, slug=workflow.slug, name=workflow.name, output_schema=schema
    )
    page = operator.get(reverse("admin:steve_workflow_change", args=[workflow.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "a-very-long-field-note" not in html
    for shown in (receipt_workflow, version):
        assert reverse("admin:steve_workflowversion_change", args=[shown.pk]) in html


def _rows_and_rest(operator, page: str, prefix: str) -> tuple[int, list[str]]:
    """How many rows of the inline `prefix` a change page draws, and its link to the rest."""
    shown = operator.get(page).content.decode()
    rest = re.findall(r'are below: <a href="([^"]+)">', shown)
    return len(re.findall(rf'<tr [^>]*id="{prefix}-\d+"', shown)), rest


def test_a_submissions_and_a_workflows_pages_show_the_newest_20_and_link_to_the_rest(
    operator, receipt_workflow
):
    """Every event of a submission and every version of a workflow was drawn inline: a
    submission with thousands of events, or a workflow republished hundreds of times,
    made a page of megabytes with the newest rows lost in it."""
    workflow = receipt_workflow.workflow
    submission = SubmissionFactory(company=workflow.company, workflow=workflow)
    SubmissionEvent.objects.bulk_create(
        SubmissionEvent(submission=submission, type="comment", details={"text": f"note {n}"})
        for n in range(300)
    )
    WorkflowVersion.objects.bulk_create(
        WorkflowVersion(
            workflow=workflow,
            version=receipt_workflow.version + n,
            kind=receipt_workflow.kind,
            upload=receipt_workflow.upload,
            output_schema=receipt_workflow.output_schema,
        )
        for n in range(1, 301)
    )
    newest = workflow.versions.order_by("-version").first()
    for page, prefix, rows in (
        (
            reverse("admin:submissions_submission_change", args=[submission.pk]),
            "events",
            submission.events,
        ),
        (reverse("admin:steve_workflow_change", args=[workflow.pk]), "versions", workflow.versions),
    ):
        drawn, links = _rows_and_rest(operator, page, prefix)
        assert drawn == 20, (page, drawn)
        (rest,) = links
        listed = operator.get(rest)
        assert listed.status_code == 200, rest
        assert listed.context["cl"].result_count == rows.count(), rest
    shown = operator.get(reverse("admin:steve_workflow_change", args=[workflow.pk]))
    assert reverse("admin:steve_workflowversion_change", args=[newest.pk]) in shown.content.decode()
    # The page's form, sent as drawn (20 view-only version rows), still saves the workflow.
    url = reverse("admin:steve_workflow_change", args=[workflow.pk])
    posted = {
        "company": workflow.company_id,
        "slug": workflow.slug,
        "name": "Receipts (renamed)",
        "versions-TOTAL_FORMS": "20",
        "versions-INITIAL_FORMS": "20",
    }
    assert operator.post(url, posted).status_code == 302
    workflow.refresh_from_db()
    assert workflow.name == "Receipts (renamed)"


def test_a_companys_page_takes_a_bounded_number_of_queries_at_200_members(
    operator, company, django_assert_max_num_queries
):
    members = [member(company) for _ in range(200)]
    # Each membership read its user twice (its name, its autocomplete choice) and its
    # company once: three queries a member, 600 on the page of a company of 200 reviewers.
    with django_assert_max_num_queries(15):
        page = operator.get(reverse("admin:steve_company_change", args=[company.pk]))
    assert page.status_code == 200
    assert all(user.username in page.content.decode() for user in members)


def test_a_members_role_is_changed_on_the_companys_page_and_the_user_stays(operator, company):
    user = member(company)
    membership = Membership.objects.get(user=user, company=company)
    other = UserFactory()
    response = operator.post(
        reverse("admin:steve_company_change", args=[company.pk]),
        {
            "name": company.name,
            "slug": company.slug,
            "rate_limits": "{}",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-company": company.pk,
            "memberships-0-user": other.pk,
            "memberships-0-role": Membership.Role.LEAD,
        },
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    # A membership is a user's in a company: shown by name, not re-pointed to someone else.
    assert (membership.user_id, membership.role) == (user.pk, Membership.Role.LEAD)


def test_admin_pages_carry_the_review_desks_content_security_policy(operator, company):
    """The admin shows what outsiders wrote (OCR'd values, metadata, a receiver's error
    body) to superusers: a slip in its escaping must not run a script there either."""
    submission = SubmissionFactory(company=company)
    urls = [
        reverse("admin:index"),
        reverse("admin:submissions_submission_changelist"),
        reverse("admin:submissions_submission_change", args=[submission.pk]),
        reverse("admin:webhooks_webhookendpoint_add"),
    ]
    for url in urls:
        response = operator.get(url)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url


def test_the_outbox_list_offers_the_registered_tasks_without_reading_every_message(operator):
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task="jobs.tasks.process_session", args=[f"ses_{n}"]) for n in range(300)
    )
    listed = reverse("admin:steve_outboxmessage_changelist")
    # The task filter's choices were every waiting message's task (SELECT DISTINCT): the
    # outbox is longest when the broker is down, which is when an operator opens it.
    with CaptureQueriesContext(connection) as done:
        page = operator.get(listed)
    assert not [q["sql"] for q in done if "DISTINCT" in q["sql"]]
    # ... and counted them twice (the page's count, then the same again as the total).
    scans = [q["sql"] for q in done if 'FROM "steve_outboxmessage"' in q["sql"]]
    assert len([sql for sql in scans if "LIMIT" not in sql]) == 1, scans
    shown = page.content.decode()
    assert "?task=jobs.tasks.process_session" in shown
    assert "?task=webhooks.tasks.deliver_webhook" in shown
    chosen = operator.get(listed, {"task": "jobs.tasks.process_session"})
    assert chosen.context["cl"].result_count == 300


@pytest.mark.parametrize("model", ["accessattempt", "accesslog", "accessfailurelog"])
@pytest.mark.parametrize(
    "query", ["ip_address__exact=not-an-address", "attempt_time__year=99999999999999999999"]
)
def test_a_login_throttling_list_with_a_filter_value_it_cannot_read_says_so_not_a_500(
    operator, model, query
):
    response = operator.get(f"/admin/axes/{model}/?{query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")  # the admin's "invalid filter" notice


def test_a_superuser_changes_their_own_password_in_the_admin_and_stays_signed_in(operator):
    # The admin's form is the desk's throttled one; the right old password still works.
    page = reverse("admin:password_change")
    assert operator.get(page).status_code == 200
    new = "a-much-longer-passphrase-9"
    answer = operator.post(
        page, {"old_password": "pw-ops-123456", "new_password1": new, "new_password2": new}
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:password_change_done")
    ops = get_user_model().objects.get(username="ops")
    assert ops.check_password(new)
    assert operator.get(reverse("admin:index")).status_code == 200


def _typed_key(page: str) -> tuple[str, str, str]:
    name = re.search(r'<input[^>]*name="name"[^>]*value="([^"]*)"', page).group(1)
    select = re.search(r'<select[^>]*name="environment".*?</select>', page, re.S).group(0)
    environment = re.search(r'<option value="([^"]*)" selected>', select).group(1)
    company = re.search(r'<select[^>]*name="company".*?</select>', page, re.S).group(0)
    return name, environment, re.search(r'<option value="([^"]*)" selected>', company).group(1)


def test_a_key_the_service_refuses_at_the_add_is_the_form_again_as_typed(
    operator, company, monkeypatch
):
    # The form checks the name as the service does; what the service refuses as it
    # saves (its name rules changed meanwhile, say) was a 500, the name typed lost.
    def refused(**kwargs):
        raise invalid("name", "Refused at the save.")

    monkeypatch.setattr("steve.admin.api_key_create", refused)
    response = operator.post(
        reverse("admin:steve_apikey_add"),
        {"company": company.pk, "name": "ERP sync", "environment": "sandbox"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"name": ["Refused at the save."]}
    assert _typed_key(response.content.decode()) == ("ERP sync", "sandbox", company.pk)
    assert not ApiKey.objects.exists()


def test_a_new_keys_secret_is_forgotten_when_its_save_is_refused_after_it_was_made(
    operator, company, monkeypatch
):
    # The key and its secret were made, then the save refused (its related rows): the
    # key is rolled back, so its secret, which opens nothing, is neither shown nor kept.
    def refused(*args, **kwargs):
        raise ServiceError("REFUSED", "Refused after the key was made.")

    monkeypatch.setattr(ApiKeyAdmin, "save_related", refused)
    response = operator.post(
        reverse("admin:steve_apikey_add"),
        {"company": company.pk, "name": "ERP sync", "environment": "production"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Refused after the key was made." in page
    assert _typed_key(page) == ("ERP sync", "production", company.pk)
    assert not shown_secrets(response) and steve_services.API_KEY_PREFIX not in page
    assert not response.wsgi_request.__dict__.get(REQUEST_ATTRIBUTE)
    assert not ApiKey.objects.exists()


def test_revoking_keys_again_says_they_were_already_revoked_as_a_warning(operator, company):
    keys = [api_key(company, name=f"k{i}").api_key for i in range(2)]
    posted = _revoke_question(operator, keys)
    changelist = reverse("admin:steve_apikey_changelist")
    operator.post(changelist, {**posted, "confirm": "yes"}, follow=True)
    # The same Yes sent again (the browser's back and resubmit): a green "Revoked 0
    # key(s)." read as if the action had worked.
    again = operator.post(changelist, {**posted, "confirm": "yes"}, follow=True)
    shown = [(m.level_tag, str(m)) for m in again.context["messages"]]
    assert shown == [("warning", "Those keys were already revoked; nothing was changed.")]
    assert LogEntry.objects.filter(change_message="Revoked.").count() == 2


@pytest.mark.parametrize("picked", ["abc", "", "1e9999", "9" * 30])
def test_an_action_on_a_selection_that_is_no_rows_id_says_nothing_was_done_not_a_500(
    operator, company, picked
):
    # A members' row is numbered: a selection that is no number (a post made by hand, a
    # page from before a restore) failed Django's filter on it, a 500.
    Membership.objects.create(user=UserFactory(), company=company)
    response = operator.post(
        reverse("admin:steve_membership_changelist"),
        {"action": "delete_selected", "_selected_action": [picked], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "None of the 1 selected memberships are on this list any more (another operator "
        "deleted or changed them meanwhile): nothing was done."
    ]
    assert Membership.objects.count() == 1


def big_tables_rows(company: Company, analyse: Callable[[str], None]) -> dict[str, str]:
    """30 rows in each of the tables that grow with every submission, change, delivery
    and attempt, analyzed so PostgreSQL's statistics hold their size; each list's table
    by its page."""
    version = default_workflows(company)[0]
    submissions = Submission.objects.bulk_create(
        SubmissionFactory.build(
            company=company, workflow_version=version, workflow=version.workflow
        )
        for _ in range(30)
    )
    SubmissionFile.objects.bulk_create(
        SubmissionFileFactory.build(submission=submission) for submission in submissions
    )
    SubmissionEvent.objects.bulk_create(
        SubmissionEvent(submission=submissions[0], type="approved") for _ in range(30)
    )
    FraudMatch.objects.bulk_create(
        FraudMatch(
            company=company,
            submission=submission,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=1.0,
            similarity=1.0,
        )
        for submission in submissions
    )
    key = api_key(company).api_key
    WorkflowSession.objects.bulk_create(
        WorkflowSession(
            company=company,
            api_key=key,
            environment=key.environment,
            workflow_version=version,
            submission=submission,
            state=SessionState.SUBMITTED,
            client_submission_id=submission.client_submission_id,
            file_count=1,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        for submission in submissions
    )
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(company=company, api_key=key, key=f"post-{n}", fingerprint="f" * 64)
        for n in range(30)
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            company=company,
            url="https://hooks.example.com/",
            event_id=f"evt_{n}",
            event_type="submission.approved",
            payload={},
        )
        for n in range(30)
    )
    WebhookAttempt.objects.bulk_create(WebhookAttempt(delivery=d) for d in deliveries)
    tables = {
        "admin:submissions_submission_changelist": Submission._meta.db_table,
        "admin:submissions_submissionfile_changelist": SubmissionFile._meta.db_table,
        "admin:submissions_submissionevent_changelist": SubmissionEvent._meta.db_table,
        "admin:fraud_fraudmatch_changelist": FraudMatch._meta.db_table,
        "admin:jobs_workflowsession_changelist": WorkflowSession._meta.db_table,
        "admin:steve_idempotencykey_changelist": IdempotencyKey._meta.db_table,
        "admin:webhooks_webhookattempt_changelist": WebhookAttempt._meta.db_table,
        "admin:webhooks_webhookdelivery_changelist": WebhookDelivery._meta.db_table,
    }
    for table in tables.values():
        analyse(table)
    return tables


@pytest.mark.postgres_only
def test_unfiltered_lists_of_the_largest_tables_take_their_size_from_the_statistics(
    operator, company, monkeypatch, analyse
):
    # Counting every event, delivery or attempt ever made, once a page: 43 ms at 81,000
    # rows, and growing with every day of use.
    tables = big_tables_rows(company, analyse)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 10)  # 30 rows count as many
    for changelist, table in tables.items():
        with CaptureQueriesContext(connection) as done:
            page = operator.get(reverse(changelist))
        assert page.status_code == 200
        counts = [q["sql"] for q in done if "COUNT(" in q["sql"] and f'"{table}"' in q["sql"]]
        assert counts == []
        assert "about 30 " in page.content.decode()


@pytest.mark.postgres_only
def test_filtered_or_small_lists_of_the_largest_tables_count_their_rows(
    operator, company, monkeypatch, analyse
):
    tables = big_tables_rows(company, analyse)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 10)
    events = reverse("admin:submissions_submissionevent_changelist")
    # Filtered: the statistics know the table, not the filter's rows.
    filtered = operator.get(events, {"type__exact": "approved"}).content.decode()
    assert "30 submission events" in filtered and "about 30" not in filtered
    searched = operator.get(events, {"q": "nothing-matches"}).content.decode()
    assert "0 submission events" in searched
    # Small: a count is as cheap as the estimate and exact.
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 10_000)
    for changelist in tables:
        page = operator.get(reverse(changelist)).content.decode()
        assert "about 30" not in page and "30 " in page
    assert "30 submission events" in operator.get(events).content.decode()


def _history(user: Any, entries: int) -> None:
    """`entries` admin log rows under `user`, as their actions write them (log_changes)."""
    keys = ContentType.objects.get_for_model(ApiKey)
    LogEntry.objects.bulk_create(
        LogEntry(
            user=user,
            content_type=keys,
            object_id=str(n),
            object_repr=f"key {n}",
            action_flag=CHANGE,
            change_message="Revoked.",
        )
        for n in range(entries)
    )


def test_deleting_an_operator_with_a_history_says_to_deactivate_them_and_keeps_it(operator):
    ann = get_user_model().objects.create_superuser("ann", "ann@example.com", "pw-ann-123456")
    _history(ann, 3000)
    read = Counter()

    def count(sender: type, **kwargs: object) -> None:
        read[sender] += 1

    # Django deleted a user's admin log with them (who revoked, switched or forgot what
    # was gone with the operator who did it), after a confirmation listing every row of
    # it: a page of thousands of lines for an operator of a few months.
    page = reverse("admin:auth_user_delete", args=[ann.pk])
    post_init.connect(count)
    try:
        said = refusal_shown(operator.get(page))
    finally:
        post_init.disconnect(count)
    assert "This user has 3000 log entries; it cannot be deleted." in said
    assert "Deactivate" in said
    assert read[LogEntry] == 0
    refusal_shown(operator.post(page, {"post": "yes"}))
    assert get_user_model().objects.filter(pk=ann.pk).exists()
    assert LogEntry.objects.filter(user=ann).count() == 3000


def test_a_user_without_a_history_is_deleted_with_their_memberships(operator, company):
    # A reviewer added by mistake, who never used the admin: nothing to keep.
    bob = member(company)
    page = reverse("admin:auth_user_delete", args=[bob.pk])
    assert operator.post(page, {"post": "yes"}).status_code == 302
    assert not get_user_model().objects.filter(pk=bob.pk).exists()
    assert not Membership.objects.filter(user_id=bob.pk).exists()


def test_an_api_keys_digest_cannot_be_read_back_by_filtering_the_key_list_on_it(operator, company):
    # The key list is filtered on any of ApiKey's own fields from the query string, the
    # digest as well (?digest__startswith=ab): whether the key was listed told a right
    # prefix from a wrong one, and 64 rounds of 16 requests read back the digest, which is
    # what the API compares a presented key with and names its cache entry.
    created = api_key(company)
    digest = ApiKey.objects.get(pk=created.api_key.pk).digest
    changelist = reverse("admin:steve_apikey_changelist")
    for lookup, value in (
        ("digest__startswith", digest[:2]),
        ("digest__exact", digest),
        ("digest", digest),
        ("digest__gt", digest[:1]),
        ("digest__in", digest),
    ):
        assert operator.get(changelist, {lookup: value}).status_code == 400, lookup
    # The list itself still lists the key, and its other columns still filter.
    listed = operator.get(changelist, {"environment__exact": "production"})
    assert listed.status_code == 200
    assert created.api_key.pk in listed.content.decode()


def date_filters() -> list[tuple[str, str]]:
    """Each registered list with a date or time column of its own, and that column."""
    lists = []
    for model in admin.site._registry:
        dated = [f.name for f in model._meta.concrete_fields if f.get_internal_type() in DATES]
        if dated:
            meta = model._meta
            lists.append((f"admin:{meta.app_label}_{meta.model_name}_changelist", dated[0]))
    return lists


DATES = {"DateTimeField", "DateField"}


def test_every_list_filtered_by_a_year_past_datetimes_says_so_not_a_500(operator):
    """?created_at__year=99999, typed into the address bar, failed in Django's datetime
    (a ValueError, a 500) on every list: only the login throttling ones refused it."""
    lists = date_filters()
    assert len(lists) > 20
    for changelist, field in lists:
        response = operator.get(reverse(changelist), {f"{field}__year": "99999"})
        assert response.status_code == 302, changelist
        assert response["Location"].endswith("?e=1"), changelist  # "invalid filter"
