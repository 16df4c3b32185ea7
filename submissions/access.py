"""A reviewer's claims follow their access: whatever removes it releases them.

Access is a membership (steve.models.Membership, its role) and an active account; the
core (steve) imports no app, so the review side listens to its rows. Every path that
removes access writes one of them: the admin's membership pages, its "delete selected",
a company page's members, the user's page (Active unticked) and its deletion, a shell.
Each receiver runs in the transaction of the change (the admin's views are atomic, and
so is a deletion), so the releases commit or roll back with it.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from steve.accounts import users_deleting
from steve.models import Company, Membership
from submissions.services import (
    submission_claims_release_lost_access,
    submissions_lock_claimed_by,
)

User = get_user_model()

# What a saved membership was before its save (its user may change with it), kept on the
# instance by the pre_save receiver for the post_save one.
PREVIOUS_USER = "_steve_previous_user_id"
# The account fields a change of which may end the user's access.
ACCESS_FIELDS = frozenset({"is_active", "is_superuser"})


def _release_lost(user_ids: set[int]) -> None:
    for user in User._default_manager.filter(pk__in=user_ids).order_by("pk"):
        submission_claims_release_lost_access(user=user)


@receiver(pre_save, sender=Membership)
def _remember_previous_user(sender: type, instance: Membership, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "user" not in update_fields):
        return
    previous = Membership.objects.filter(pk=instance.pk).values_list("user_id", flat=True)
    setattr(instance, PREVIOUS_USER, previous.first())


@receiver(post_save, sender=Membership)
def _membership_saved(sender: type, instance: Membership, created: bool, **kwargs: Any) -> None:
    if created:
        return  # a new membership gives access, takes none
    # Moved to another company, given a role that only looks, or handed to another user
    # (whose former holder keeps nothing of it).
    previous = instance.__dict__.pop(PREVIOUS_USER, None)
    _release_lost({instance.user_id} | ({previous} if previous is not None else set()))


def _deleted_with_owner(origin: Model | QuerySet | None) -> bool:
    """A membership deleted with its company or its user: a company is deleted only
    with no submissions (they protect its workflows), so nothing of it is held; a user's
    claims were released first (_user_deleting)."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model is Company or model is User


@receiver(post_delete, sender=Membership)
def _membership_deleted(sender: type, instance: Membership, **kwargs: Any) -> None:
    if not _deleted_with_owner(kwargs.get("origin")):
        _release_lost({instance.user_id})


@receiver(post_save, sender=User)
def _user_saved(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and not ACCESS_FIELDS & set(update_fields)):
        return  # a sign-in (last_login) or a password change ends no access
    if instance.is_active and instance.is_superuser:
        return  # decides everywhere: nothing lost, no query
    submission_claims_release_lost_access(user=instance)


@receiver(pre_delete, sender=User)
def _user_deleting(sender: type, instance: Any, **kwargs: Any) -> None:
    # Before the deletion empties claimed_by (SET_NULL), which left claimed_until and no
    # event: the timeline never said the claim ended, nor why.
    submission_claims_release_lost_access(user=instance, everywhere=True)


@receiver(users_deleting)
def _users_deleting(sender: type, user_ids: list[int], **kwargs: Any) -> None:
    # Locked before the admin locks the users' rows, where _user_deleting would lock them
    # after: a reviewer holding one and writing a row naming its user waits for the user
    # row the deletion holds, the deletion for the submission (a deadlock).
    submissions_lock_claimed_by(user_ids=user_ids)
