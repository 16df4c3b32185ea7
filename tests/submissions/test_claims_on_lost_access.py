"""A reviewer who loses access to a company (their membership deleted or moved, their
role no longer deciding, their account deactivated or deleted) holds none of its
submissions any more: each claim is released with its own event, in the change's
transaction, so the desk never shows a submission held by someone who cannot act."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from steve.models import Company, Membership
from submissions.models import Submission
from submissions.services import submission_claim
from tests.factories import CompanyFactory, SubmissionFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def claimed_by(user: Any, company: Company) -> Submission:
    submission = SubmissionFactory(company=company)
    submission_claim(submission_id=submission.pk, user=user)
    submission.refresh_from_db()
    return submission


def assert_released_by_the_system(submission: Submission, holder: Any) -> None:
    version = submission.version
    submission.refresh_from_db()
    assert submission.claimed_by_id is None and submission.claimed_until is None
    # A change of holder: every page drawn while it was held is stale (its version moved).
    assert submission.version == version + 1 == submission.claim_version
    released = list(submission.events.filter(type="claim_released"))
    assert len(released) == 1
    event = released[0]
    assert (event.actor_type, event.actor_label) == ("system", "Steve")
    assert event.details == {"releasedClaimOf": holder.username, "reason": "access_removed"}
    assert event.version == submission.version


def assert_still_held(submission: Submission, holder: Any) -> None:
    submission.refresh_from_db()
    assert submission.claimed_by_id == holder.pk
    assert not submission.events.filter(type="claim_released").exists()


def test_deleting_a_membership_in_the_admin_releases_its_claims_there_only(operator, company):
    other = CompanyFactory()
    alice = member(company)
    Membership.objects.create(user=alice, company=other)
    here, elsewhere = claimed_by(alice, company), claimed_by(alice, other)
    membership = Membership.objects.get(user=alice, company=company)

    page = reverse("admin:steve_membership_delete", args=[membership.pk])
    assert operator.post(page, {"post": "yes"}).status_code == 302

    assert_released_by_the_system(here, alice)
    assert_still_held(elsewhere, alice)


def test_moving_a_membership_to_another_company_releases_the_claims_left_behind(operator, company):
    other = CompanyFactory()
    alice = member(company)
    here = claimed_by(alice, company)
    membership = Membership.objects.get(user=alice, company=company)

    page = reverse("admin:steve_membership_change", args=[membership.pk])
    response = operator.post(
        page, {"user": alice.pk, "company": other.pk, "role": Membership.Role.REVIEWER}
    )
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).company_id == other.pk

    assert_released_by_the_system(here, alice)


def test_moving_a_membership_to_another_user_releases_the_first_users_claims(operator, company):
    alice, bob = member(company), UserFactory()
    here = claimed_by(alice, company)
    membership = Membership.objects.get(user=alice, company=company)

    page = reverse("admin:steve_membership_change", args=[membership.pk])
    response = operator.post(
        page, {"user": bob.pk, "company": company.pk, "role": Membership.Role.REVIEWER}
    )
    assert response.status_code == 302

    assert_released_by_the_system(here, alice)


def test_a_role_that_may_no_longer_decide_releases_the_claims_a_role_that_may_keeps_them(
    operator, company
):
    alice = member(company)
    held = claimed_by(alice, company)
    membership = Membership.objects.get(user=alice, company=company)
    page = reverse("admin:steve_membership_change", args=[membership.pk])

    # A lead still decides: the claim stays with them.
    data = {"user": alice.pk, "company": company.pk, "role": Membership.Role.LEAD}
    assert operator.post(page, data).status_code == 302
    assert_still_held(held, alice)

    # A viewer only looks: holding a submission nobody else may act on helps no one.
    assert operator.post(page, {**data, "role": Membership.Role.VIEWER}).status_code == 302
    assert_released_by_the_system(held, alice)


def test_deleting_selected_memberships_releases_each_members_claims(operator, company):
    alice, bob, carol = member(company), member(company), member(company)
    alices, bobs, carols = (claimed_by(user, company) for user in (alice, bob, carol))
    picked = Membership.objects.filter(user__in=[alice, bob]).values_list("pk", flat=True)

    response = operator.post(
        reverse("admin:steve_membership_changelist"),
        {"action": "delete_selected", "_selected_action": list(picked), "post": "yes"},
    )
    assert response.status_code == 302

    assert_released_by_the_system(alices, alice)
    assert_released_by_the_system(bobs, bob)
    assert_still_held(carols, carol)


def test_removing_a_member_on_the_companys_page_releases_their_claims(operator, company):
    alice = member(company)
    held = claimed_by(alice, company)
    membership = Membership.objects.get(user=alice, company=company)

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
            "memberships-0-user": alice.pk,
            "memberships-0-role": membership.role,
            "memberships-0-DELETE": "on",
        },
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()

    assert_released_by_the_system(held, alice)


def user_change_form(user: Any, **changes: Any) -> dict[str, Any]:
    """What Django's user change page posts back for `user`, with `changes`."""
    data = {
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_deactivating_a_user_releases_their_claims_in_every_company(operator, company):
    other = CompanyFactory()
    alice, bob = member(company), member(company)
    Membership.objects.create(user=alice, company=other)
    here, elsewhere, bobs = (
        claimed_by(alice, company),
        claimed_by(alice, other),
        claimed_by(bob, company),
    )

    page = reverse("admin:auth_user_change", args=[alice.pk])
    response = operator.post(page, user_change_form(alice, is_active=None))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active

    assert_released_by_the_system(here, alice)
    assert_released_by_the_system(elsewhere, alice)
    assert_still_held(bobs, bob)


def test_an_active_users_other_changes_and_sign_ins_keep_their_claims(client, company):
    alice = member(company)
    held = claimed_by(alice, company)
    alice.first_name = "Alice"
    alice.save()
    client.force_login(alice)  # a sign-in saves last_login
    assert_still_held(held, alice)


def test_deleting_a_user_releases_their_claims_with_events_not_silently(operator, company):
    alice = member(company)
    held = claimed_by(alice, company)

    page = reverse("admin:auth_user_delete", args=[alice.pk])
    assert operator.post(page, {"post": "yes"}).status_code == 302
    assert not get_user_model().objects.filter(pk=alice.pk).exists()

    assert_released_by_the_system(held, alice)


def test_a_superuser_keeps_claims_in_a_company_they_are_no_longer_a_member_of(company):
    # Superusers review every company (steve.accounts): a membership adds nothing.
    root = member(company, is_superuser=True, is_staff=True)
    held = claimed_by(root, company)
    Membership.objects.filter(user=root).delete()
    assert_still_held(held, root)


def test_a_release_rolls_back_with_the_change_that_removed_access(company):
    alice = member(company)
    held = claimed_by(alice, company)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        Membership.objects.filter(user=alice).delete()
        held.refresh_from_db()
        assert held.claimed_by_id is None  # released inside the deletion's transaction
        raise Abandoned

    assert Membership.objects.filter(user=alice, company=company).exists()
    assert_still_held(held, alice)
