from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SteveConfig(AppConfig):
    name = "steve"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from steve import loginlimit, signals  # noqa: F401 - connects the receivers

        # Registers its API components and problem codes with the schema's catalogue.
        from steve.api import workflow_schema  # noqa: F401


class SteveAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with Steve's site (superusers only), named in INSTALLED_APPS."""

    default = False  # not the steve app's own config
    default_site = "steve.admin_site.SteveAdminSite"
