"""Deployment settings: `check --deploy` is clean with the production settings the README
gives, and compose and scripts/dev do not start in an unsafe way."""

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
