"""The admin's API-key and list pages with Redis (the key cache) unreachable: each
change is made in the database and said, as the API's authentication then reads it."""

import pytest
from django.urls import reverse

from steve.models import ApiKey
from tests.redis_down import redis_down  # noqa: F401 - a fixture
from tests.steve.test_admin import _revoke_question

pytestmark = pytest.mark.django_db


def test_adding_renaming_revoking_and_deleting_a_key_with_redis_down_is_done_and_said(
    operator,
    company,
    redis_down,  # noqa: F811
):
    added = operator.post(
        reverse("admin:steve_apikey_add"),
        {"company": company.pk, "name": "ops", "environment": "production"},
    )
    assert added.status_code == 200  # the page showing the secret once
    key = ApiKey.objects.get(name="ops")
    change = reverse("admin:steve_apikey_change", args=[key.pk])
    renamed = operator.post(change, {"name": "ops 2"}, follow=True)
    assert renamed.status_code == 200
    key.refresh_from_db()
    assert key.name == "ops 2"
    changelist = reverse("admin:steve_apikey_changelist")
    revoked = operator.post(
        changelist, {**_revoke_question(operator, [key]), "confirm": "yes"}, follow=True
    )
    assert [str(m) for m in revoked.context["messages"]] == ["Revoked 1 key(s)."]
    key.refresh_from_db()
    assert key.revoked_at is not None
    deleted = operator.post(reverse("admin:steve_apikey_delete", args=[key.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert not ApiKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize(
    "page", ["admin:jobs_workflowsession_changelist", "admin:submissions_submission_changelist"]
)
def test_the_session_and_submission_lists_answer_with_redis_down(
    operator,
    company,
    redis_down,  # noqa: F811
    page,
):
    assert operator.get(reverse(page)).status_code == 200
