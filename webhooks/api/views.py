"""The webhook API: endpoints, their secrets and deliveries, and the test event.

Views are thin: parse, call one service, shape the answer. Everything is scoped to the
caller's company; another company's endpoint or delivery is a 404 like a missing one.
"""

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.core.cache import cache
from django.urls import reverse
from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from steve import redis_pause
from steve.api.errors import (
    ApiProblem,
    field_error,
    problem_of_all,
    refuse_any_body,
    refuse_unknown_members,
    shown,
    validation_problem,
)
from steve.api.idempotency import idempotent
from steve.api.pagination import PAGE_QUERY, keyset_page, page_param_problems
from steve.ids import new_id
from steve.models import Environment
from steve.timefmt import iso
from webhooks.api import schema as api_docs
from webhooks.api.serializers import (
    body_object,
    company_secret_data,
    delivery_data,
    endpoint_data,
    outcome_data,
    parse_changes,
    parse_create,
    parse_since,
    parse_test_target,
)
from webhooks.delivery import TEST_TIMEOUT_SECONDS, send_test
from webhooks.models import (
    CompanySecret,
    SessionWebhookSecret,
    SyncSigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.selectors import company_secret_of, delivery_of, endpoint_of
from webhooks.services import (
    SupersededRotation,
    default_grace,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_redeliver_failed,
    endpoint_rotate_secret,
    endpoint_update,
    session_secret_rotate,
    sync_secret_rotate,
    validated_grace,
    validated_url,
)

logger = logging.getLogger(__name__)


def own_endpoint(request: Request, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoint_of(
        company=request.user.company, environment=request.auth.environment, endpoint_id=endpoint_id
    )
    if endpoint is None:
        raise ApiProblem(
            404, f"No webhook endpoint {shown(endpoint_id)}.", code="WEBHOOK_ENDPOINT_NOT_FOUND"
        )
    return endpoint


def own_delivery(request: Request, delivery_id: str) -> WebhookDelivery:
    delivery = delivery_of(
        company=request.user.company, environment=request.auth.environment, delivery_id=delivery_id
    )
    if delivery is None:
        raise ApiProblem(
            404, f"No webhook delivery {shown(delivery_id)}.", code="WEBHOOK_DELIVERY_NOT_FOUND"
        )
    return delivery


def grace_from(request: Request) -> timedelta:
    # No body reads as {}; a falsy one (false, 0, "") is no object, not "no body".
    body = body_object(request.data)
    refuse_unknown_members(body, ("gracePeriodHours",))
    if "gracePeriodHours" not in body:
        return default_grace()
    return validated_grace(body["gracePeriodHours"])  # null is refused, not the default


@extend_schema_view(get=api_docs.ENDPOINT_LIST, post=api_docs.ENDPOINT_CREATE)
class EndpointListView(APIView):
    # The create takes none: its members are the body's (steve.api.query).
    accepted_query_params = {"get": PAGE_QUERY}

    def get(self, request: Request) -> Response:
        company = request.user.company
        rows, pagination = keyset_page(
            WebhookEndpoint.objects.filter(company=company, environment=request.auth.environment),
            scope=f"webhook-endpoints:{company.pk}:{request.auth.environment}",
            params=request.query_params,
            accepted=self.accepted_query_params["get"],
        )
        return Response({"data": [endpoint_data(e) for e in rows], "pagination": pagination})

    @idempotent(scope="webhook-endpoints")
    def post(self, request: Request) -> Response:
        body = parse_create(request.data)
        endpoint, secret = endpoint_create(
            company=request.user.company,
            url=body.get("url"),
            events=body.get("events", []),  # null is refused, as any other non-list
            description=body.get("description", ""),
            environment=request.auth.environment,  # the creating key's environment
        )
        # A 201 names what it made (RFC 9110 10.2.2).
        location = reverse("webhook-endpoint-detail", kwargs={"endpoint_id": endpoint.pk})
        return Response(
            endpoint_data(endpoint, secret=secret), status=201, headers={"Location": location}
        )


@extend_schema_view(
    get=api_docs.ENDPOINT_DETAIL, patch=api_docs.ENDPOINT_UPDATE, delete=api_docs.ENDPOINT_DELETE
)
class EndpointDetailView(APIView):
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(endpoint_data(own_endpoint(request, endpoint_id)))

    @idempotent(scope="webhook-endpoint-updates")
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = own_endpoint(request, endpoint_id)
        endpoint = endpoint_update(endpoint_id=endpoint.pk, changes=parse_changes(request.data))
        return Response(endpoint_data(endpoint))

    @idempotent(scope="webhook-endpoint-deletions")
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoint_delete(endpoint_id=own_endpoint(request, endpoint_id).pk)
        return Response(status=204)


def superseded_data(superseded: SupersededRotation | None) -> dict[str, str] | None:
    return (
        {"rotatedAt": iso(superseded.rotated_at), "message": superseded.message}
        if superseded
        else None
    )


@extend_schema_view(post=api_docs.ENDPOINT_ROTATE_SECRET)
class EndpointRotateView(APIView):
    # A retry whose answer was lost must get the same secret, not rotate again (which
    # would end the original secret's grace at once: one previous secret is kept).
    @idempotent(scope="secret-rotations")
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = own_endpoint(request, endpoint_id)
        rotation = endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=grace_from(request))
        data = endpoint_data(rotation.endpoint, secret=rotation.secret)
        # Another rotation moments before (another operator's): its secret now signs only
        # for this one's grace, which its answer could not say (docs/webhooks.md).
        data["supersededRotation"] = superseded_data(rotation.superseded)
        return Response(data)


@extend_schema_view(post=api_docs.ENDPOINT_REDELIVER)
class EndpointRedeliverView(APIView):
    @idempotent(scope="endpoint-redeliveries")
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = own_endpoint(request, endpoint_id)
        since = parse_since(request.data)
        count = endpoint_redeliver_failed(endpoint_id=endpoint.pk, since=since)
        return Response({"endpointId": endpoint.pk, "redelivered": count}, status=202)


@extend_schema_view(get=api_docs.ENDPOINT_DELIVERIES)
class EndpointDeliveriesView(APIView):
    accepted_query_params = {"get": ("status", *PAGE_QUERY)}  # steve.api.query

    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = own_endpoint(request, endpoint_id)
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        status = request.query_params.get("status")
        given = request.query_params.getlist("status")
        scope = f"webhook-deliveries:{endpoint.pk}:{status or ''}"
        problems = []
        if len(given) > 1 or status:  # "?status=bogus&status=" had filtered nothing
            if status not in WebhookDelivery.Status.values or len(given) > 1:
                message = "status must be one of pending, delivered or failed, given once."
                problems.append(
                    ApiProblem(
                        400,
                        message,
                        code="INVALID_FILTER",
                        errors=[field_error("status", message, "invalid_choice")],
                    )
                )
            deliveries = deliveries.filter(status=status)
        # Refused with the filter in one answer: the page's own parameters, unknown ones.
        accepted = self.accepted_query_params["get"]
        problems += page_param_problems(request.query_params, scope=scope, accepted=accepted)
        if problems:
            raise problem_of_all(problems)
        rows, pagination = keyset_page(
            deliveries, scope=scope, params=request.query_params, accepted=accepted
        )
        return Response({"data": [delivery_data(d) for d in rows], "pagination": pagination})


@extend_schema_view(get=api_docs.DELIVERY_DETAIL)
class DeliveryDetailView(APIView):
    def get(self, request: Request, delivery_id: str) -> Response:
        return Response(delivery_data(own_delivery(request, delivery_id), with_attempts=True))


@extend_schema_view(post=api_docs.DELIVERY_REDELIVER)
class DeliveryRedeliverView(APIView):
    @idempotent(scope="delivery-redeliveries")
    def post(self, request: Request, delivery_id: str) -> Response:
        delivery = own_delivery(request, delivery_id)
        refuse_any_body(request.data)  # what was sent with it is not dropped unsaid
        delivery = delivery_redeliver(delivery_id=delivery.pk)
        return Response(delivery_data(delivery), status=202)


def environment_scope(request: Request) -> dict[str, str]:
    """Session-webhook secrets are one per environment: a sandbox key sees the sandbox's."""
    return {"environment": request.auth.environment}


def company_scope(request: Request) -> dict[str, str]:
    """The downstream-sync secret is one per company, and production's: sandbox submissions
    are never posted downstream, and a sandbox key that read or rotated it could sign posts
    the downstream system takes for production's."""
    if request.auth.environment != Environment.PRODUCTION:
        raise ApiProblem(
            403,
            "The downstream-sync secret signs production's posts: use a production key.",
            code="PRODUCTION_KEY_REQUIRED",
            slug="production-key-required",
        )
    return {}


@extend_schema_view(get=api_docs.SESSION_SECRET)
class SessionSecretView(APIView):
    """Whether the company has a session-webhook secret; the secret itself is never shown."""

    model: type[CompanySecret] = SessionWebhookSecret
    scope = staticmethod(environment_scope)

    def get(self, request: Request) -> Response:
        owner = company_secret_of(
            model=self.model, company=request.user.company, **self.scope(request)
        )
        return Response(company_secret_data(owner))


@extend_schema_view(post=api_docs.SESSION_SECRET_ROTATE)
class SessionSecretRotateView(APIView):
    """Create (first call) or rotate the secret that signs deliveries to sessions' webhookUrl."""

    rotate = staticmethod(session_secret_rotate)
    scope = staticmethod(environment_scope)

    @idempotent(scope="secret-rotations")
    def post(self, request: Request) -> Response:
        rotation = self.rotate(
            company_id=request.user.company.pk,
            grace=grace_from(request),
            **self.scope(request),
        )
        data = company_secret_data(rotation.owner, secret=rotation.secret)
        data["supersededRotation"] = superseded_data(rotation.superseded)
        return Response(data)


@extend_schema_view(get=api_docs.SYNC_SECRET)
class SyncSecretView(SessionSecretView):
    """Whether the company has a downstream-sync signing secret (never the secret itself)."""

    model = SyncSigningSecret
    scope = staticmethod(company_scope)


@extend_schema_view(post=api_docs.SYNC_SECRET_ROTATE)
class SyncSecretRotateView(SessionSecretRotateView):
    """Create (first call) or rotate the secret that signs downstream-sync posts."""

    rotate = staticmethod(sync_secret_rotate)
    scope = staticmethod(company_scope)


@extend_schema_view(post=api_docs.WEBHOOK_TEST)
class WebhookTestView(APIView):
    """Send a test event now (5 s timeout) to one of the company's endpoints or to a URL."""

    throttle_scope = "webhook_test"

    @idempotent(scope="webhook-tests")
    def post(self, request: Request) -> Response:
        endpoint_id, url = parse_test_target(request.data)
        if endpoint_id is not None and url is not None:
            # Both were sent, so neither is missing: they exclude each other.
            message = "Give endpointId or url, not both."
            raise validation_problem(
                [field_error(name, message, "conflict") for name in ("endpointId", "url")]
            )
        if endpoint_id is None and url is None:
            raise validation_problem(
                [field_error("endpointId", "Give exactly one of endpointId and url.", "required")]
            )
        endpoint = own_endpoint(request, endpoint_id) if endpoint_id else None
        target = endpoint.url if endpoint else validated_url(url)
        event_id = new_id("evt")
        with one_test_at_a_time(request.user.company.pk, request.auth.environment):
            outcome = send_test(
                company_id=request.user.company.pk,
                environment=request.auth.environment,
                endpoint=endpoint,
                url=target,
                event_id=event_id,
            )
        return Response(outcome_data(outcome, url=target, event_id=event_id))


@contextmanager
def one_test_at_a_time(company_id: str, environment: str) -> Iterator[None]:
    """A test is sent while its request waits (up to 5 s): three at once held all three
    sync web workers of a deployment, and every other company's calls waited (a load
    helper's probe). A company's environment sends one at a time, so a sandbox testing a
    slow receiver never refuses production's tests (docs/environments.md); without the
    cache, none is sent."""
    key = f"webhook-test:{company_id}:{environment}"
    try:
        free = cache.add(key, 1, timeout=TEST_TIMEOUT_SECONDS + 5)
    except Exception:
        # Closed, not open as the rate limits are: with Redis down this limit and the
        # webhook_test bucket both would let every test through, and a burst of them
        # could hold every web worker. A test changes nothing; it can wait for Redis.
        redis_pause.log_failure(logger, "Webhook test lock unavailable; test refused")
        raise ApiProblem(
            503,
            "Test events cannot be sent while the rate-limit store is unreachable; "
            "try again shortly.",
            code="WEBHOOK_TEST_UNAVAILABLE",
            slug="webhook-test-unavailable",
            headers={"Retry-After": str(int(redis_pause.REDIS_PAUSE_SECONDS))},
        ) from None
    if not free:
        raise ApiProblem(
            409,
            "A test event of this environment is being sent; try again in a few seconds.",
            code="WEBHOOK_TEST_IN_PROGRESS",
            slug="webhook-test-in-progress",
            headers={"Retry-After": "5"},
        )
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            cache.delete(key)
