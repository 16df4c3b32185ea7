"""The admin site: Steve's operators' tool, across companies."""

from django.contrib import admin
from django.http import HttpRequest


class SteveAdminSite(admin.AdminSite):
    """Superusers only. The admin lists every company's submissions, keys and memories;
    a company's own staff (members with admin permissions) see theirs in the review UI,
    which is scoped by membership, and got everyone's here."""

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser
