from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        # A session follows its submission whichever app changed the submission.
        from jobs.services import connect_session_to_submission

        connect_session_to_submission()
        # Registers its API components and problem codes with the schema's catalogue.
        from jobs.api import schema  # noqa: F401
