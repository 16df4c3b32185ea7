from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # Registers the webhooks' API components and problem codes with the schema's catalogue.
        from webhooks.api import schema  # noqa: F401
