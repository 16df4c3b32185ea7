"""Deployment settings: `check --deploy` is clean with the production settings the README
gives, and compose and scripts/dev do not start in an unsafe way."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHECK_ID = re.compile(r"\((\w+\.[WE]\d+)\)")

# Warnings of `check --deploy` that Steve's production settings leave on purpose (and
# settings.SILENCED_SYSTEM_CHECKS, each with its reason there).
ACCEPTED = {
    "security.W005": "HSTS includeSubDomains is for the domain's owner to decide: other "
    "services may live on plain HTTP under it (SECURE_HSTS_INCLUDE_SUBDOMAINS=1 opts in).",
    "security.W021": "HSTS preload is a commitment of the whole domain to the browsers' "
    "list, not Steve's to make (SECURE_HSTS_PRELOAD=1 opts in).",
}


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The README's production settings, with nothing inherited from the test run."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "steve.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://steve.example.com",
        "PUBLIC_BASE_URL": "https://steve.example.com",
        "SECURE_PROXY_SSL_HEADER": "1",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    env.update(overrides)
    return env


def deploy_check(env: dict[str, str]) -> tuple[int, set[str], str]:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    return result.returncode, set(CHECK_ID.findall(output)), output


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    code, found, output = deploy_check(production_env(tmp_path))
    assert code == 0, output
    assert found - set(ACCEPTED) == set(), output


def test_check_deploy_catches_a_weak_secret_and_missing_https_settings(tmp_path):
    env = production_env(tmp_path, SECRET_KEY="change-me-in-production", SECURE_SSL_REDIRECT="0")
    del env["SECURE_HSTS_SECONDS"]
    _, found, _ = deploy_check(env)
    assert {"security.W009", "security.W008", "security.W004"} <= found


def compose_env() -> dict[str, str]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())["x-steve"]["environment"]


def test_compose_refuses_to_start_without_a_secret_key_and_keeps_cookies_secure():
    env = compose_env()
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"])
    assert env["SECURE_COOKIES"] == "${SECURE_COOKIES:-1}"


def test_scripts_dev_listens_on_loopback_unless_told_otherwise():
    script = (REPO / "scripts" / "dev").read_text()
    assert 'BIND="${BIND:-127.0.0.1}"' in script
    assert "0.0.0.0:" not in script.replace("BIND=0.0.0.0 exposes", "")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STEVE_OCR_ENGINE", "foo", "STEVE_OCR_ENGINE must be one of rapidocr, tesseract"),
        ("STEVE_OCR_THREADS", "abc", "STEVE_OCR_THREADS must be an integer"),
        ("STEVE_OCR_HEAD_LINES", "-1", "STEVE_OCR_HEAD_LINES must be at least 0"),
    ],
)
def test_a_bad_ocr_setting_stops_steve_at_start_naming_it(tmp_path, name, value, message):
    code, _, output = deploy_check(production_env(tmp_path, **{name: value}))
    assert code != 0 and message in output


# A production setting given wrong stops every process at start with a message naming
# the variable, before a request meets it; a URL's password is never repeated (the
# message lands in logs that more people read than own the database).
BAD_SETTINGS = [
    (
        {"DATABASE_URL": "postgres://steve:hunter2@db:54x2/steve"},
        "DATABASE_URL: the port must be a number",
    ),
    (
        {"DATABASE_URL": "postgres://steve:hun#ter2@db:5432/steve"},
        "DATABASE_URL: a '#' must be percent-encoded (%23)",
    ),
    (
        {"DATABASE_URL": "postgress://steve:hunter2@db:5432/steve"},
        "DATABASE_URL must start with postgres:// or sqlite:///, got "
        "'postgress://steve:[redacted]@db:5432/steve'",
    ),
    (
        {"REDIS_URL": "http://:hunter2@redis:6379/0"},
        "REDIS_URL must start with redis://, rediss:// or unix://, got "
        "'http://:[redacted]@redis:6379/0'",
    ),
    (
        {"DATABASE_URL": "postgres://steve:hunter2@db:99999/steve"},
        "DATABASE_URL: the port must be a number from 0 to 65535",
    ),
    ({"REDIS_URL": "redis://:hunter2@redis:6379/cache"}, "REDIS_URL: the database number"),
    ({"REDIS_URL": "redis://:hunter2@redis:63x9/0"}, "REDIS_URL: the port must be a number"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of debug, info, warning, error"),
    (
        {"STORAGE": "s3", "S3_BUCKET": "steve", "S3_ACCESS_KEY_ID": "steve"},
        "S3_ACCESS_KEY_ID is set without S3_SECRET_ACCESS_KEY",
    ),
    ({"S3_BUCKET": "steve"}, "S3_BUCKET is set but STORAGE is 'local'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS)
def test_a_bad_production_setting_stops_steve_at_start_naming_it(tmp_path, overrides, message):
    code, _, output = deploy_check(production_env(tmp_path, **overrides))
    assert code != 0 and message in output, output
    assert "hunter2" not in output


def nginx_directives() -> dict[str, str]:
    """deploy/nginx.conf's `name value;` lines (its server block is flat)."""
    text = re.sub(r"#.*", "", (REPO / "deploy" / "nginx.conf").read_text())
    return dict(re.findall(r"^\s*(\w+)\s+([^;{}]+);", text, flags=re.MULTILINE))


def nginx_seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(s|m)?", value).groups()
    return int(number) * (60 if unit == "m" else 1)


def test_only_the_proxy_takes_connections_and_it_hands_web_whole_requests():
    # web's sync workers each hold one request until it is answered: three clients
    # trickling a request held them all (scripts/entrypoint, 3 workers), so every client
    # reaches web through nginx, which reads requests and answers whole.
    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    assert "ports" not in services["web"] and services["proxy"]["ports"] == ["8000:8000"]
    directives = nginx_directives()
    assert directives.get("proxy_request_buffering", "on") == "on"
    assert directives.get("proxy_buffering", "on") == "on"


def test_the_proxy_drops_a_stalled_client_within_seconds():
    # nginx's default is a minute for each: connections of clients that stopped sending
    # (or trickle headers) stayed open six times as long, eating its connection slots.
    directives = nginx_directives()
    assert nginx_seconds(directives["client_header_timeout"]) <= 10
    assert nginx_seconds(directives["client_body_timeout"]) <= 20
    assert nginx_seconds(directives["send_timeout"]) <= 20
    assert directives["reset_timedout_connection"] == "on"


def test_the_proxy_takes_the_largest_body_steve_accepts_and_no_more():
    from jobs.api.extraction_jobs import BODY_SLACK
    from steve.workflow_rules import UPLOAD_RULES_SCHEMA

    largest_file = UPLOAD_RULES_SCHEMA["properties"]["maxFileSizeMb"]["maximum"] * 1024 * 1024
    largest_create = largest_file * 4 // 3 + BODY_SLACK  # the file as base64
    limit = re.fullmatch(r"(\d+)m", nginx_directives()["client_max_body_size"])
    assert limit is not None
    assert largest_create <= int(limit.group(1)) * 1024 * 1024 <= largest_create * 1.1


NGINX_TOKEN = re.compile(r"#[^\n]*|'([^']*)'|\"([^\"]*)\"|([{};])|([^\s{};'\"]+)")
Directive = tuple[str, list[str], list]  # name, arguments, the block's directives (or [])


def nginx_config() -> list[Directive]:
    """deploy/nginx.conf as nested directives: enough of nginx's grammar for this file
    (quoted strings, comments, blocks), where nginx_directives reads flat lines."""
    tokens = []
    for match in NGINX_TOKEN.finditer((REPO / "deploy" / "nginx.conf").read_text()):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        if quoted is not None:
            tokens.append(("word", quoted))
        elif match.group(3):
            tokens.append((match.group(3), match.group(3)))
        elif match.group(4):
            tokens.append(("word", match.group(4)))
    block, rest = _nginx_block(tokens)
    assert rest == []
    return block


def _nginx_block(tokens: list) -> tuple[list[Directive], list]:
    block: list[Directive] = []
    while tokens and tokens[0][0] != "}":
        words = []
        while tokens[0][0] == "word":
            words.append(tokens.pop(0)[1])
        end = tokens.pop(0)[0]
        children: list[Directive] = []
        if end == "{":
            children, tokens = _nginx_block(tokens)
            tokens = tokens[1:]  # its "}"
        block.append((words[0], words[1:], children))
    return block, tokens


def nginx_find(block: list[Directive], name: str, *args: str) -> list[Directive]:
    return [d for d in block if d[0] == name and tuple(d[1][: len(args)]) == args]


def nginx_error_pages(block: list[Directive]) -> dict[int, tuple[int | None, str]]:
    """status -> (the status it is answered with, if `=NNN` changes it; the page)."""
    pages = {}
    for _, args, _ in nginx_find(block, "error_page"):
        *statuses, page = args
        changed = int(statuses.pop()[1:]) if statuses[-1].startswith("=") else None
        pages.update({int(status): (changed, page) for status in statuses})
    return pages


def nginx_map_lookup(config: list[Directive], variable: str, uri: str) -> str:
    """What `map $uri <variable>` gives for `uri`: an exact entry, else the first regex
    that matches, else the default (nginx's order)."""
    (_, _, entries), *_ = nginx_find(config, "map", "$uri", variable)
    values = {key: args[0] for key, args, _ in entries}  # `key value;` lines
    if uri in values:
        return values[uri]
    for key, value in values.items():
        if key.startswith("~") and re.search(key[1:], uri):
            return value
    return values["default"]


# What nginx answers itself (not Steve) and what an /api/ client must get instead of its
# HTML page: the status the page is answered with, and its code per request path.
PROXY_PROBLEMS = {
    400: (400, {"/api/v1/sessions": "BAD_REQUEST"}),
    413: (
        413,
        {
            "/api/v1/uploads/tok": "FILE_TOO_LARGE",
            "/api/v1/extraction-jobs": "FILE_TOO_LARGE",
            "/api/v1/sessions": "BODY_TOO_LARGE",
            "/api/v1/webhooks/endpoints": "BODY_TOO_LARGE",
        },
    ),
    502: (503, {"/api/v1/sessions": "SERVICE_UNAVAILABLE"}),
    503: (503, {"/api/v1/sessions": "SERVICE_UNAVAILABLE"}),
    504: (504, {"/api/v1/sessions": "UPSTREAM_TIMEOUT"}),
}


def proxy_server() -> tuple[list[Directive], list[Directive]]:
    config = nginx_config()
    ((_, _, server),) = nginx_find(config, "server")
    return config, server


def page_location(server: list[Directive], page: str) -> list[Directive]:
    selector = (page,) if page.startswith("@") else ("=", page)
    ((_, _, location),) = nginx_find(server, "location", *selector)
    return location


@pytest.mark.parametrize("status", sorted(PROXY_PROBLEMS))
def test_the_proxys_own_errors_under_api_are_problems_with_steves_codes(status):
    # nginx's HTML page broke every client that parses problems, on the worst day: a
    # deploy (502 while web restarts), or a body over client_max_body_size (413).
    from steve.api.errors import DEFAULTS, PROBLEM_BASE
    from steve.api.schema import PROBLEM_CODES, problem_slug

    config, server = proxy_server()
    ((_, _, api),) = nginx_find(server, "location", "/api/")
    answered, codes = PROXY_PROBLEMS[status]
    changed, page = nginx_error_pages(api)[status]
    location = page_location(server, page)
    assert nginx_find(location, "default_type") == [
        ("default_type", ["application/problem+json"], [])
    ]
    ((_, (returned, text), _),) = nginx_find(location, "return")
    # A page keeps the status it handles unless `=NNN` changes it: `return 503` in the page
    # of a 502 still answered 502.
    assert (changed or status) == int(returned) == answered
    if answered in (503, 504):
        ((_, (_, seconds, always), _),) = nginx_find(location, "add_header", "Retry-After")
        assert int(seconds) > 0 and always == "always"
    for uri, code in codes.items():
        body = json.loads(nginx_map_lookup(config, text, uri) if text.startswith("$") else text)
        assert body["code"] == code and PROBLEM_CODES[code][0] == body["status"] == answered
        assert body["type"] == PROBLEM_BASE + problem_slug(code, answered)
        assert body["title"] == DEFAULTS[answered][1] and body["detail"]
        # A path may hold an upload URL's token: never repeated.
        assert body["instance"] is None and body["requestId"] is None
        if uri == "/api/v1/extraction-jobs":  # seed 003: the peers' envelope too
            assert body["success"] is False and body["error"]["code"] == code


def test_the_review_desk_keeps_nginxs_pages_and_steves_own_errors_pass_through():
    _, server = proxy_server()
    ((_, _, root),) = nginx_find(server, "location", "/")
    assert nginx_error_pages(root) == {}
    # Steve's own 400s, 413s and 503 DATABASE_UNAVAILABLE reach the client as it wrote them.
    text = re.sub(r"#.*", "", (REPO / "deploy" / "nginx.conf").read_text())
    assert "proxy_intercept_errors" not in text


def test_a_request_refused_before_its_location_gets_a_problem_only_under_api():
    # A malformed header is refused before any location is chosen: the server's page. A
    # named location there made a request line nginx could not read a 500 (no URI).
    _, server = proxy_server()
    changed, page = nginx_error_pages(server)[400]
    assert changed is None and page.startswith("/")
    location = page_location(server, page)
    assert nginx_find(location, "internal")
    ((_, condition, fallback),) = nginx_find(location, "if")
    assert condition == ["($request_uri", "!~", "^/api/)"]
    assert fallback == [("return", ["400"], [])]  # nginx's own page, no body


def test_the_proxy_names_no_version_of_itself():
    # nginx's default `server_tokens on` put "Server: nginx/1.27.3" on every response
    # (it replaces web's own header) and the version under each of its own error pages,
    # which the review desk and the admin keep: which CVEs apply, told to anyone asking.
    _, server = proxy_server()
    assert nginx_find(server, "server_tokens") == [("server_tokens", ["off"], [])]
