from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self) -> None:
        # Connects the downstream-sync receiver of webhook delivery outcomes in every
        # process, the `deliveries` workers above all.
        from submissions import sync  # noqa: F401
