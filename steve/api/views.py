"""Workflows: the company's workflow contracts."""

import re

from django.db.models import OuterRef, Subquery
from django.urls.converters import SlugConverter
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from steve.api import workflow_schema as api_docs
from steve.api.errors import ApiProblem, shown
from steve.api.serializers import workflow_data
from steve.models import Workflow, WorkflowVersion

# A workflow's slug (an extraction job's templateName) is repeated back no longer than this.
SLUG_MAX_LENGTH = Workflow._meta.get_field("slug").max_length


def company_workflow(request: Request, slug: str) -> Workflow:
    # One added in the admin has no version until one is published: not listed, not found.
    workflow = Workflow.objects.filter(
        company=request.user.company, slug=slug, versions__isnull=False
    ).first()
    if workflow is None:
        raise workflow_not_found(slug)
    return workflow


def workflow_not_found(slug: str) -> ApiProblem:
    return ApiProblem(
        404,
        f"No workflow {shown(slug, otherwise='of that name', max_length=SLUG_MAX_LENGTH)}.",
        code="WORKFLOW_NOT_FOUND",
    )


def version_not_found(slug: str, version: str) -> ApiProblem:
    """`version` as it is to be shown."""
    return ApiProblem(
        404,
        f"Workflow {shown(slug, max_length=SLUG_MAX_LENGTH)} has no version {version}.",
        code="WORKFLOW_NOT_FOUND",
    )


@extend_schema_view(get=api_docs.WORKFLOW_LIST)
class WorkflowListView(APIView):
    def get(self, request: Request) -> Response:
        # Only each workflow's latest version, without its output schema (the list shows
        # none): every version ever published, schemas and all, was read to list them.
        latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-version")
        workflows = list(
            Workflow.objects.filter(company=request.user.company)
            .annotate(latest_id=Subquery(latest.values("pk")[:1]))
            .filter(latest_id__isnull=False)
            .order_by("slug")
        )
        versions = WorkflowVersion.objects.defer("output_schema", "fraud_policy").in_bulk(
            [w.latest_id for w in workflows]
        )
        data = [workflow_data(w, versions[w.latest_id]) for w in workflows]
        return Response({"data": data})


@extend_schema_view(get=api_docs.WORKFLOW_DETAIL_DOCS)
class WorkflowDetailView(APIView):
    def get(self, request: Request, slug: str) -> Response:
        workflow = company_workflow(request, slug)
        return Response(workflow_data(workflow, workflow.latest, full=True))


@extend_schema_view(get=api_docs.WORKFLOW_VERSION_DOCS)
class WorkflowVersionView(APIView):
    def get(self, request: Request, slug: str, version: int) -> Response:
        workflow = company_workflow(request, slug)
        found = workflow.versions.filter(version=version).first()
        if found is None:
            raise version_not_found(slug, str(version))
        return Response(workflow_data(workflow, found, full=True))


SLUG = re.compile(SlugConverter.regex)


@extend_schema(exclude=True)  # not an operation: getWorkflow's and getWorkflowVersion's paths
class WorkflowPathNotFoundView(APIView):
    """A workflow path the real routes' converters refuse (versions/latest, versions/-1,
    a slug with a character no slug has): the router's generic NOT_FOUND was a code
    those operations do not document; this answers theirs, after the same key check."""

    def get(self, request: Request, slug: str, version: str | None = None) -> Response:
        if not SLUG.fullmatch(slug):
            raise workflow_not_found(slug)  # no such slug can exist: not looked up
        company_workflow(request, slug)
        raise version_not_found(slug, shown(version, otherwise="of that number"))
