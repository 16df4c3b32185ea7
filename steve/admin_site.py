"""The admin site: Steve's operators' tool, across companies."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest

from steve.api.parsers import MAX_JSON_DEPTH, BodyRefused, check_json


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


class CheckedJSONField(forms.JSONField):
    """An admin form's JSON, held to the API's body rules (steve.api.parsers): nested too
    deep, a NUL or a lone surrogate is the form's error, where it had been a 500 (json's
    RecursionError, or PostgreSQL refusing the text)."""

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(
                f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.", code="too_deep"
            ) from None
        try:
            check_json(converted)
        except BodyRefused as refused:
            raise ValidationError(str(refused.detail), code=refused.problem_code) from None
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # The form shown again with its error holds the refused text as typed: decoded,
        # a lone surrogate could not even be written into the page.
        try:
            bound = super().bound_data(data, initial)
            if not isinstance(bound, InvalidJSONInput):
                check_json(bound)
        except (RecursionError, BodyRefused):
            return InvalidJSONInput(data)
        return bound
