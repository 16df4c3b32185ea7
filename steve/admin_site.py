"""The admin site: Steve's operators' tool, across companies."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class SteveAdminSite(admin.AdminSite):
    """Superusers only. The admin lists every company's submissions, keys and memories;
    a company's own staff (members with admin permissions) see theirs in the review UI,
    which is scoped by membership, and got everyone's here."""

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser


class FixedOnceCreated:
    """A ModelAdmin mixin: fields set when a row is added and read-only after, such as
    the company (and environment) a key, an endpoint or a secret belongs to: moving one
    would cross a tenancy boundary the API never crosses."""

    fixed_once_created: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = self.fixed_once_created if obj is not None else ()
        return [*super().get_readonly_fields(request, obj), *fixed]  # type: ignore[misc]


class SavesEditedFieldsOnly:
    """A ModelAdmin mixin: saving a change writes only the fields the operator edited.

    The admin reads the row when the form is posted and a plain save writes every column
    back, read-only ones too: a key revoked, a secret rotated or a memory counted by
    someone else in the meantime was undone by an operator renaming the key."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        columns = {field.name for field in obj._meta.concrete_fields}
        if edited := [name for name in form.changed_data if name in columns]:
            obj.save(update_fields=edited)
