"""The core API package (steve/api/) names no app: each app owns its contract.

The forbidden names are read from the apps themselves, so a new model, choice, route or
problem code is covered without editing this test: their models' and TextChoices' class
names, their choices' values, their URL names and routes, and the problem codes their
`<app>/api/schema.py` registers. The workflows are the core app's own (steve.models).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from steve.api import ratelimit

APPS = ["jobs", "submissions", "webhooks", "fraud"]
CORE_API = Path(__file__).resolve().parents[2] / "steve" / "api"
API_ROOT = "api/v1/"
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def _text_choices(app: str) -> list[type[models.TextChoices]]:
    """Every TextChoices of the app's models module, module-level and nested in models.

    Only a module-level one's name is the app's: a nested one is named through its model.
    """
    module = importlib.import_module(f"{app}.models")
    found = []
    for value in vars(module).values():
        owners = [value, *vars(value).values()] if inspect.isclass(value) else []
        found += [
            o
            for o in owners
            if inspect.isclass(o)
            and issubclass(o, models.TextChoices)
            and o.__module__ == module.__name__
        ]
    return found


def _routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, str | None, str]]:
    """(route, url name, view module) of every URL pattern under `patterns`."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.name, pattern.lookup_str


def _normal(route: str) -> str:
    """A route with its parameters blanked, whether Django's <int:x> or OpenAPI's {x}."""
    return CONVERTER.sub("<>", route)


def _app_routes(app: str) -> list[tuple[str, str | None]]:
    """The app's API routes (under /api/v1/) and their names."""
    return [
        (_normal(route.removeprefix(API_ROOT)), name)
        for route, name, view in _routes(get_resolver().url_patterns)
        if view.startswith(f"{app}.") and route.startswith(API_ROOT)
    ]


def _core_words() -> set[str]:
    """Words the core declares itself: its own models' choices and the rate-limit buckets."""
    own = {
        value
        for model in apps.get_app_config("steve").get_models()
        for field in model._meta.get_fields()
        for value, _ in getattr(field, "choices", None) or []
    }
    return own | set(ratelimit.BUCKETS)


def forbidden(app: str) -> dict[str, set[str]]:
    """What the core must not name of `app`, by kind."""
    enums = _text_choices(app)
    names = {m.__name__ for m in apps.get_app_config(app).get_models()}
    values = {
        value
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        for value, _ in getattr(field, "choices", None) or []
        if isinstance(value, str)
    }
    values |= {c.value for enum in enums for c in enum}
    routes = _app_routes(app)
    return {
        "model or enum name": names | {e.__name__ for e in enums if e.__qualname__ == e.__name__},
        "choice value": values - _core_words(),
        "url name": {name for _, name in routes if name} - _core_words(),
        "route": {route for route, _ in routes},
        "problem code": set(importlib.import_module(f"{app}.api.schema").PROBLEMS),
    }


def _strings(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


ATTRIBUTE_CALLS = {"getattr", "hasattr", "setattr", "delattr"}


def _member_names(tree: ast.AST) -> Iterator[ast.AST]:
    """Constants that name a member, not a value: dict keys and getattr's attribute."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            yield from (k for k in node.keys if k is not None)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ATTRIBUTE_CALLS:
            yield from node.args[1:2]


def _values(tree: ast.AST) -> Iterator[str]:
    """The string constants used as values: a wire member or an attribute may share a
    word with a choice (`data`); an enum's copied values cannot hide as member names."""
    members = {id(node) for node in _member_names(tree)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in members
        ):
            yield node.value


def _names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.alias):
            yield from node.name.split(".")
            if node.asname:
                yield node.asname


def _has_route(text: str, route: str) -> bool:
    """`route` as a path in `text`: the whole string, or after a slash up to its end."""
    pattern = r"(?:^|/)" + re.escape(route) + r"(?:$|[/?#\s`'\")])"
    return re.search(pattern, _normal(text)) is not None


def findings(source: str, app: str) -> list[str]:
    """Every name of `app` that `source` (a Python module's text) uses."""
    tree = ast.parse(source)
    names, strings, constants = set(_names(tree)), list(_strings(tree)), set(_values(tree))
    words = set(re.findall(r"\b\w+\b", source))
    found = []
    for kind, values in forbidden(app).items():
        for value in sorted(values):
            if kind == "model or enum name":
                hit = value in names or value in words
            elif kind == "problem code":
                hit = value in words
            elif kind == "route":
                hit = any(_has_route(s, value) for s in strings)
            elif kind == "url name":  # a table keyed by route names names them too
                hit = value in strings
            else:
                hit = value in constants
            if hit:
                found.append(f"{kind} {value!r}")
    return found


def core_modules() -> list[Path]:
    return sorted(CORE_API.glob("*.py"))


def test_the_forbidden_lists_are_read_from_the_apps():
    """The scan is only as good as its lists: each kind finds what the apps declare."""
    jobs, submissions = forbidden("jobs"), forbidden("submissions")
    assert {"WorkflowSession", "SessionState"} <= jobs["model or enum name"]
    assert {"submitted", "extraction_job"} <= jobs["choice value"]
    assert "session" not in jobs["choice value"]  # a rate-limit bucket of the core's too
    assert {"job-detail", "extraction-job-create"} <= jobs["url name"]
    assert {"extraction-jobs", "jobs/<>", "workflows/<>/sessions"} <= jobs["route"]
    assert {"JOB_NOT_FOUND", "RESULT_EXPIRED"} <= jobs["problem code"]
    assert "SUBMISSION_IS_REVIEW" in submissions["problem code"]
    assert "approved" in submissions["choice value"]
    assert "FraudMatch" in forbidden("fraud")["model or enum name"]
    assert "webhook-endpoints/<>/deliveries" in forbidden("webhooks")["route"]


@pytest.mark.parametrize("app", APPS)
def test_the_core_api_package_names_nothing_of_the_app(app):
    found = {
        path.name: hits for path in core_modules() if (hits := findings(path.read_text(), app))
    }
    assert found == {}, f"steve/api/ names {app}'s {found}: move it to {app}/api/"


@pytest.mark.parametrize(
    ("line", "app", "kind"),
    [
        ("from submissions.models import Submission", "submissions", "model or enum name"),
        ("STATUSES = ['created', 'approved']", "submissions", "choice value"),
        ("CODES = {'FRAUD_MATCH_NOT_FOUND': 404}", "fraud", "problem code"),
        ("ROUTE = '/api/v1/extraction-jobs/{job_id}/result'", "jobs", "route"),
        ("ROUTE = ('/api/v1/webhook-endpoints', 'POST')", "webhooks", "route"),
        ("NAME = 'webhook-delivery-detail'", "webhooks", "url name"),
        ("POLL = {'extraction-job-detail': 'job_id'}", "jobs", "url name"),
        ("STATES = {'submitted', 'review_required'}", "jobs", "choice value"),
    ],
)
def test_an_app_name_put_back_into_the_core_is_found(line, app, kind):
    source = (CORE_API / "schema.py").read_text() + "\n" + line + "\n"
    assert any(hit.startswith(kind) for hit in findings(source, app)), line


def test_prose_and_the_cores_own_words_are_not_app_names():
    source = '"""Sessions, submissions and extraction-job creates spend `session`."""\n'
    source += "BUCKETS = ('read', 'session', 'write')\nPAGE = {'data': [], 'pagination': {}}\n"
    assert all(findings(source, app) == [] for app in APPS)


CORE = CORE_API.parent


def _patterns(schema: object) -> Iterator[str]:
    """Every `pattern` of a JSON Schema, at any depth."""
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            yield schema["pattern"]
        for value in schema.values():
            yield from _patterns(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _patterns(item)


def test_the_core_holds_no_pattern_of_the_apps_output_schemas():
    """A table of the built-in schemas' patterns in words (steve.workflow_rules) copied
    the jobs app's values into the core, and an admin's own pattern had no words at all:
    a pattern's refusal takes its words from the field's own schema."""
    from jobs.extraction.schemas import OUTPUT_SCHEMAS

    patterns = set(_patterns(OUTPUT_SCHEMAS))
    assert patterns, "the built-in schemas have patterns: the scan would find nothing"
    found = {
        str(path.relative_to(CORE)): sorted(patterns & set(_strings(ast.parse(path.read_text()))))
        for path in CORE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
