"""Factories for the suite: real services where a service exists, factory-boy for rows."""

import factory
from django.contrib.auth import get_user_model

from fraud.models import FraudMatch
from jobs.defaults import publish_default_workflows
from steve.models import Company, Membership, WorkflowVersion
from steve.services import CreatedApiKey, api_key_create
from submissions.models import Submission, SubmissionEvent, SubmissionFile, SubmissionStatus


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"reviewer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def companies(self, create: bool, extracted: list[Company] | None, **kwargs) -> None:
        self.save()
        for company in extracted or []:
            Membership.objects.create(user=self, company=company)


def member(company: Company, role: str = Membership.Role.REVIEWER, **fields):
    """A user who is a member of `company` with `role`."""
    user = UserFactory(**fields)
    Membership.objects.create(user=user, company=company, role=role)
    return user


def default_workflows(company: Company) -> list[WorkflowVersion]:
    return publish_default_workflows(company=company)


def api_key(
    company: Company, name: str = "test key", environment: str = "production"
) -> CreatedApiKey:
    return api_key_create(company=company, name=name, environment=environment)


class SubmissionFactory(factory.django.DjangoModelFactory):
    """A processed submission waiting for review (no session), for review-side tests."""

    class Meta:
        model = Submission

    company = factory.SubFactory(CompanyFactory)
    workflow_version = factory.LazyAttribute(lambda s: default_workflows(s.company)[0])
    workflow = factory.LazyAttribute(lambda s: s.workflow_version.workflow)
    status = SubmissionStatus.REVIEW
    fraud_status = "clean"
    fraud_score = 0.0
    extracted_data = factory.LazyFunction(
        lambda: {"merchantName": "Kedai Runcit", "totalAmount": 12.5, "currency": "MYR"}
    )
    confidence = 0.9
    field_confidences = factory.LazyFunction(lambda: {"merchantName": 0.9, "totalAmount": 0.95})
    client_submission_id = factory.Sequence(lambda n: f"client-{n}")


class SubmissionFileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubmissionFile

    submission = factory.SubFactory(SubmissionFactory)
    file_index = 0
    label = "receipt"
    declared_content_type = "image/jpeg"
    mime_type = "image/jpeg"
    size = 100
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    storage_key = factory.LazyAttribute(lambda f: f"submissions/x/{f.submission.pk}/0")


def many_submissions(count: int, companies: int = 20) -> list[Submission]:
    """`count` submissions spread over `companies` companies (and their workflows), each
    with a file, an event and a fraud match on the one before: the admin's lists at scale.
    Rows are inserted in bulk, as thousands through the services would take minutes."""
    versions = [default_workflows(CompanyFactory())[0] for _ in range(companies)]
    in_turn = [versions[n % companies] for n in range(count)]
    submissions = Submission.objects.bulk_create(
        SubmissionFactory.build(
            company=version.workflow.company, workflow_version=version, workflow=version.workflow
        )
        for version in in_turn
    )
    SubmissionFile.objects.bulk_create(
        SubmissionFileFactory.build(submission=submission) for submission in submissions
    )
    SubmissionEvent.objects.bulk_create(
        SubmissionEvent(submission=submission, type="created") for submission in submissions
    )
    FraudMatch.objects.bulk_create(
        FraudMatch(
            company=first.company,
            submission=first,
            target_submission=second,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=1.0,
            similarity=1.0,
        )
        for first, second in zip(submissions, submissions[companies:], strict=False)
    )
    return submissions
