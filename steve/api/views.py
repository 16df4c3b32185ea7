"""Workflows: the company's workflow contracts."""

from django.db.models import Max
from drf_spectacular.utils import extend_schema_view
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
        raise ApiProblem(
            404,
            f"No workflow {shown(slug, otherwise='of that name', max_length=SLUG_MAX_LENGTH)}.",
            code="WORKFLOW_NOT_FOUND",
        )
    return workflow


@extend_schema_view(get=api_docs.WORKFLOW_LIST)
class WorkflowListView(APIView):
    def get(self, request: Request) -> Response:
        workflows = (
            Workflow.objects.filter(company=request.user.company)
            .annotate(latest_version=Max("versions__version"))
            .order_by("slug")
        )
        versions = {
            (v.workflow_id, v.version): v
            for v in WorkflowVersion.objects.filter(workflow__company=request.user.company)
        }
        data = [
            workflow_data(w, versions[(w.pk, w.latest_version)])
            for w in workflows
            if w.latest_version is not None
        ]
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
            raise ApiProblem(
                404,
                f"Workflow {shown(slug, max_length=SLUG_MAX_LENGTH)} has no version {version}.",
                code="WORKFLOW_NOT_FOUND",
            )
        return Response(workflow_data(workflow, found, full=True))
