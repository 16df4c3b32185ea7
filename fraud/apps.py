from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"

    def ready(self) -> None:
        # A submission that fails or is cancelled withdraws the matches against it.
        from fraud.services import connect_matches_to_submissions

        connect_matches_to_submissions()
        # Registers fraud's API components and problem codes with the schema's catalogue.
        from fraud.api import schema  # noqa: F401
