from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self) -> None:
        # Connects the receivers: access (a reviewer's claims released with the access a
        # membership or account change ends) and downstream sync (webhook delivery
        # outcomes, in every process, the `deliveries` workers above all).
        from submissions import access, sync  # noqa: F401

        # Registers its API components and problem codes with the schema's catalogue.
        from submissions.api import schema  # noqa: F401
