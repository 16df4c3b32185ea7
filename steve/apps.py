from django.apps import AppConfig


class SteveConfig(AppConfig):
    name = "steve"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from steve import signals  # noqa: F401 - connects the receivers

        # Registers its API components and problem codes with the schema's catalogue.
        from steve.api import workflow_schema  # noqa: F401
