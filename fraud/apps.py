from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"

    def ready(self) -> None:
        # Registers fraud's API components and problem codes with the schema's catalogue.
        from fraud.api import schema  # noqa: F401
