from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self) -> None:
        # Connects the downstream-sync receiver of webhook delivery outcomes in every
        # process, the `deliveries` workers above all.
        from submissions import sync  # noqa: F401

        # Registers its API components and problem codes with the schema's catalogue.
        from submissions.api import schema  # noqa: F401
