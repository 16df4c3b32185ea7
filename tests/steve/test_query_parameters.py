"""Every /api/v1/ operation refuses a query parameter it does not take (docs/api.md
"Query parameters"): 400 INVALID_PARAMETER naming it and the ones it takes. Each view
says which it takes (`accepted_query_params`), and the schema documents exactly those."""

import re

import pytest
from django.urls import resolve

from tests.openapi import published_schema

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in published_schema()["paths"].items()
        for method in item
        if method in METHODS
    ]


def view_of(template: str):
    path = re.sub(r"\{[^}]+\}", "1", template)  # a version is a number; ids are any text
    match = resolve(path)
    return path, getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)


def taken(view, method: str) -> tuple[str, ...]:
    return tuple(getattr(view, "accepted_query_params", {}).get(method, ()))


@pytest.mark.parametrize(("template", "method"), operations())
def test_the_schema_documents_exactly_the_parameters_each_view_takes(template, method):
    operation = published_schema()["paths"][template][method]
    documented = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    _, view = view_of(template)
    assert view is not None, template
    assert sorted(documented) == sorted(taken(view, method))


@pytest.mark.parametrize(("template", "method"), operations())
def test_every_operation_documents_the_unknown_parameter_refusal(template, method):
    answers = published_schema()["paths"][template][method]["responses"]
    assert "INVALID_PARAMETER" in answers["400"]["content"]["application/problem+json"]["examples"]


@pytest.mark.parametrize(("template", "method"), operations())
def test_an_operation_that_takes_no_parameter_refuses_one_before_reading_anything(
    api, template, method
):
    path, view = view_of(template)
    if taken(view, method):
        pytest.skip("a listing: its app's tests send it a real id (tests/*/test_query_parameters)")
    response = getattr(api, method)(f"{path}?bogus=1")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["errors"]) == (
        "INVALID_PARAMETER",
        [
            {
                "field": "bogus",
                "message": "Not a query parameter of this operation; it takes no query parameters.",
                "code": "unknown_field",
            }
        ],
    )


def test_the_workflow_reads_refuse_an_unknown_parameter_naming_it(api, workflows):
    for path in ("/api/v1/workflows", "/api/v1/workflows/receipt-ocr/versions/1"):
        body = api.get(f"{path}?includeSchema=true&zz=1").json()
        assert body["code"] == "INVALID_PARAMETER"
        assert [e["field"] for e in body["errors"]] == ["includeSchema", "zz"]
        assert body["detail"] == (
            "'includeSchema', 'zz' are not query parameters of this operation; "
            "it takes no query parameters."
        )


def test_a_parameter_given_with_no_value_or_no_name_is_refused_too(api, workflows):
    assert api.get("/api/v1/workflows?verbose").json()["errors"][0]["field"] == "verbose"
    assert api.get("/api/v1/workflows?=1").status_code == 400


def test_a_missing_key_is_still_a_401_before_the_parameters_are_read(anon_api):
    response = anon_api.get("/api/v1/workflows?since=1")
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_head_refuses_as_get_does_and_options_describes_the_route_whatever_the_query(
    api, api_key, client, workflows
):
    # Django's client: the schema documents GET, and HEAD is answered wherever GET is.
    key = {"HTTP_AUTHORIZATION": f"Bearer {api_key.secret}"}
    refused = client.head("/api/v1/workflows?since=1", **key)
    assert (refused.status_code, refused.content) == (400, b"")
    assert client.head("/api/v1/submissions?limit=1", **key).status_code == 200
    assert client.head("/api/v1/submissions?since=1", **key).status_code == 400
    options = api.options("/api/v1/workflows?since=1")
    assert options.status_code == 204 and options["Allow"] == "GET, HEAD, OPTIONS"


def test_format_is_still_disregarded_everywhere(api, workflows):
    # steve.api.negotiation: a ?format= names no representation; answers are JSON.
    response = api.get("/api/v1/workflows?format=csv")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_many_unknown_parameters_get_a_bounded_answer(api, workflows):
    query = "&".join(f"p{i}=1" for i in range(300))
    body = api.get(f"/api/v1/workflows?{query}").json()
    assert len(body["errors"]) == 50
    assert len(body["detail"]) < 300
