"""An unused API key deleted in the admin while its first session is being created: the
session is made and the deletion refused, or the key is deleted and the caller told its
key is not valid; never a foreign-key error on either side."""

import pytest
from django.urls import reverse

from jobs.models import WorkflowSession
from jobs.services import SessionError, SessionRequest, session_create
from steve.models import ApiKey
from tests.commit_order import in_thread, open_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def create(api_key: ApiKey, version) -> WorkflowSession:
    request = SessionRequest(1, ["image/jpeg"], "first", {}, None, "")
    return session_create(api_key=api_key, version=version, request=request)[0]


def test_deleting_a_key_while_its_first_session_is_created_refuses_and_keeps_the_session(
    operator, api_key, receipt_workflow
):
    key = api_key.api_key
    page = reverse("admin:steve_apikey_delete", args=[key.pk])
    with open_transaction(lambda: create(key, receipt_workflow)) as created:
        thread, deleted = in_thread(lambda: operator.post(page, {"post": "yes"}))
        thread.join(1)  # the deletion waits for the session being created
    thread.join(10)
    assert "error" not in created and "error" not in deleted, (created, deleted)
    said = " ".join(deleted["answer"].content.decode().split())
    assert "This API key has 1 workflow session; it cannot be deleted." in said
    assert WorkflowSession.objects.filter(api_key=key).count() == 1


def test_a_session_created_while_its_key_is_deleted_is_refused_as_an_invalid_key(
    api_key, receipt_workflow
):
    key = api_key.api_key

    def delete() -> None:  # as the admin's confirmed deletion: locked, then deleted
        ApiKey.objects.select_for_update().get(pk=key.pk).delete()

    with open_transaction(delete) as deleted:
        thread, created = in_thread(lambda: create(key, receipt_workflow))
        thread.join(1)
    thread.join(10)
    assert "error" not in deleted, deleted
    refused = created.get("error")
    assert isinstance(refused, SessionError) and refused.status == 401, created
    assert not WorkflowSession.objects.exists()
