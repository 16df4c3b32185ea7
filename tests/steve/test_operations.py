"""How Steve is run: compose, the image, the lock files and CI (no Docker needed here)."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
APP_ROLES = ("web", "worker", "delivery-worker", "beat")


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def services() -> dict:
    return compose()["services"]


def test_one_migrate_service_runs_before_every_app_role():
    migrate = services()["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    for role in APP_ROLES:
        assert services()[role]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, role
    assert "postgres" in migrate["depends_on"]


def test_the_web_role_no_longer_migrates():
    entrypoint = (REPO / "scripts" / "entrypoint").read_text()
    web = entrypoint.split("    web)")[1].split(";;")[0]
    assert "migrate" not in web
    assert "migrate)" in entrypoint


def test_long_running_services_have_health_checks():
    found = services()
    assert "/healthz" in " ".join(found["web"]["healthcheck"]["test"])
    for worker in ("worker", "delivery-worker"):
        check = " ".join(found[worker]["healthcheck"]["test"])
        assert "inspect ping" in check and "manage.py worker_liveness" in check, worker
    assert "pg_isready" in found["postgres"]["healthcheck"]["test"]
    assert "ping" in found["redis"]["healthcheck"]["test"]
    assert found["web"]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_redis_keeps_nothing_on_disk_so_a_crash_brings_it_back_empty_and_noticed():
    """Beat's Redis check (steve.services.redis_epoch_check) notices a Redis that came
    back without its mark. The image's default config snapshots to /data (`save 3600 1
    300 100 60 10000`): killed (the OOM killer, a node crash) and restarted, it loaded its
    last snapshot, the mark in it and the messages queued since gone, and the check said
    "same" (checked with redis-server 7, kill -9). Without snapshots, an append-only file
    or a /data that outlives the container, every restart is empty, and noticed."""
    redis = services()["redis"]
    program, *args = redis["command"]
    assert program == "redis-server"
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--save"] == "" and options["--appendonly"] == "no"
    # A dump.rdb left there by an earlier run would be loaded at every start.
    assert redis["tmpfs"] == ["/data"]


def test_only_the_proxy_publishes_the_web_port_so_web_replicas_can_scale():
    """Replicas publishing a fixed host port would compete for it: `--scale web=2` fails."""
    found = services()
    for role in APP_ROLES:
        assert "ports" not in found[role], role
    proxy = found["proxy"]
    assert proxy["ports"] == ["8000:8000"]
    assert proxy["depends_on"]["web"] == {"condition": "service_healthy"}
    config = (REPO / proxy["volumes"][0].split(":")[0]).read_text()
    assert "proxy_pass $web;" in config and "set $web http://web:8000;" in config
    # The proxy appends the client, so Steve trusts exactly one hop of X-Forwarded-For.
    assert "$proxy_add_x_forwarded_for" in config
    assert compose()["x-steve"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    # Upload and download URLs are bearer tokens: only gunicorn logs them, redacted.
    assert "access_log off;" in config


def test_every_image_is_pinned():
    images = [s["image"] for s in services().values() if "image" in s]
    dockerfile = (REPO / "Dockerfile").read_text()
    images += re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    for image in images:
        if image == "steve:local":  # built here
            continue
        name, _, tag = image.partition(":")
        assert tag and tag != "latest", image
        assert re.search(r"\d+\.\d+|RELEASE\.", tag), f"{image}: pin a version, not a line"


def locked(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line):
            pins[re.sub(r"[-_.]+", "-", match[1].split("[")[0].lower())] = match[2]
    return pins


def declared(extra: str | None = None) -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [re.sub(r"[-_.]+", "-", re.split(r"[\[~=<>!; ]", s)[0].lower()) for s in specs]


def test_the_lock_files_pin_every_declared_dependency():
    """Fails when a package is added to pyproject.toml without re-running scripts/lock."""
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert set(declared()) <= set(runtime), set(declared()) - set(runtime)
    assert set(declared() + declared("dev")) <= set(dev), set(declared("dev")) - set(dev)
    assert all(dev[name] == version for name, version in runtime.items())


def test_the_image_and_setup_install_the_locked_versions():
    assert "pip install -r requirements.lock" in (REPO / "Dockerfile").read_text()
    assert "pip install -q -r requirements-dev.lock" in (REPO / "scripts" / "setup").read_text()
    assert "uv" in (REPO / "scripts" / "lock").read_text()


def test_ci_checks_for_missing_migrations_before_the_tests():
    ci = (REPO / ".ci" / "run").read_text()
    check = ci.index("makemigrations --check --dry-run")
    assert ci.index("scripts/setup") < check < ci.index("./scripts/test")


def docker_ignores(path: str) -> bool:
    """Whether .dockerignore leaves `path` (or a folder above it) out of the build context:
    Docker's patterns, relative to the context's root (`*` within a name, `**` across
    folders); the file has no `!` exceptions."""
    ignore = REPO / ".dockerignore"
    patterns = [
        line.strip().strip("/")
        for line in (ignore.read_text().splitlines() if ignore.exists() else [])
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            return True
    return False


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        ".env",
        "data/steve.sqlite3",
        "data/media/files/receipt.jpg",
        "staticfiles/css/app.css",
        "artifacts/report.json",
        "steve/__pycache__/settings.cpython-311.pyc",
        "jobs/extraction/__pycache__/ocr.cpython-311.pyc",
        "steve.egg-info/PKG-INFO",
        ".pytest_cache/README.md",
        "session.json",
    ],
)
def test_the_image_leaves_out_local_data_secrets_and_the_checkout_s_venv(path):
    # `COPY . .` took the whole checkout: the developer's data/ (their SQLite database,
    # uploaded files, the demo API key scripts/dev writes there), a .env holding
    # SECRET_KEY, .git, and a 1.4-GB .venv, all into an image that is pushed to registries.
    assert docker_ignores(path)


@pytest.mark.parametrize(
    "path",
    [
        "manage.py",
        "scripts/entrypoint",
        "steve/settings.py",
        "steve/gunicorn_conf.py",
        "jobs/extraction/ocr.py",
        "static/css/steve.css",
        "templates/base.html",
        "pyproject.toml",
        "requirements.lock",
        "requirements-models.txt",
    ],
)
def test_the_image_keeps_what_it_runs(path):
    assert not docker_ignores(path)
