"""Steve's settings: every value comes from the environment, with embedded defaults.

The defaults run Steve on one machine with nothing else installed: SQLite under
DATA_DIR, local file storage, local-memory cache and a file-system Celery broker.
Production sets DATABASE_URL, REDIS_URL and STORAGE=s3.
"""

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import ParseResult, parse_qs, unquote, urlparse

from botocore.config import Config as BotoConfig
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def redacted(url: str) -> str:
    """`url` with its password replaced: a message naming a bad URL is logged, and logs
    are read by more people than own the database."""
    return re.sub(r"^([^:/]*://[^:/@]*:)[^@]*@", r"\1[redacted]@", url)


def checked_url(name: str, url: str) -> ParseResult:
    """`url` parsed, refused when what follows a character that needed percent-encoding
    would be misread: a '#' in a password (the rest taken for a fragment, the host lost),
    or a port that is not a number of 0-65535 (urllib raises its own error only at use)."""
    if "#" in url:
        raise ImproperlyConfigured(
            f"{name}: a '#' must be percent-encoded (%23), as must '@', ':', '/' and '?' "
            "in a user name or password"
        )
    parsed = urlparse(url)
    try:
        _ = parsed.port  # urllib checks it only when it is read
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}: the port must be a number from 0 to 65535, got {redacted(url)!r}"
        ) from None
    return parsed


def database_from_url(name: str, url: str) -> dict:
    """Parse postgres://user:pass@host:port/db?opt=v or sqlite:///path into Django's form."""
    parsed = checked_url(name, url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if not path or path == "/":
            raise ImproperlyConfigured(f"{name}: a sqlite URL needs a path, got {url!r}")
        # IMMEDIATE: a transaction takes the write lock when it begins, so a second writer
        # (the worker beside the web process) waits `timeout` seconds for it; a deferred one
        # that read first fails at once with "database is locked" (a 500).
        options = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": options}
    if parsed.scheme in {"postgres", "postgresql"}:
        if not parsed.path.strip("/"):
            raise ImproperlyConfigured(f"{name}: a postgres URL needs a database name")
        options: dict[str, object] = {
            key: values[-1] for key, values in parse_qs(parsed.query).items()
        }
        # Django's own cursors bind parameters on the client and never prepare; only the
        # job poll asks for a prepared statement (jobs.selectors). Turn this off behind a
        # pooler in transaction mode that cannot keep prepared statements.
        if env_bool("DATABASE_PREPARED_STATEMENTS", True):
            options.setdefault("prepare_threshold", 5)
        # A PostgreSQL that takes connections but never answers (frozen, its host cut off)
        # held each connect for good: gunicorn killed the worker after 30 s with its HTML
        # 500, every web worker in turn. Given up on, the request is a 503 problem.
        options.setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=2))
        options.update(_dead_peer_options(options))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name} must start with postgres:// or sqlite:///, got {redacted(url)!r}"
    )


def _dead_peer_options(options: dict[str, object]) -> dict[str, object]:
    """TCP keepalive on both ends of a PostgreSQL connection, and a limit on a transaction
    left idle.

    A worker machine that vanished (power lost, network cut) inside the fraud checks'
    transaction kept the company's advisory lock until PostgreSQL's kernel gave up on the
    connection, two hours by default: every other fraud check of that company waited
    behind it and failed at the task's 600-s limit. Probed after DATABASE_KEEPALIVE_SECONDS
    of silence, then every 10 s, a silent peer is dropped after 6 missed probes (and data
    it never acknowledges after as long: `tcp_user_timeout`), and its transaction with its
    locks is rolled back. The server-side settings travel in libpq's `options`; one in
    DATABASE_URL's query comes after them, and wins.
    """
    idle = env_int("DATABASE_KEEPALIVE_SECONDS", 60, minimum=0)
    idle_in_transaction = env_int("DATABASE_IDLE_IN_TRANSACTION_SECONDS", 900, minimum=0)
    server: list[str] = []
    client: dict[str, object] = {}
    if idle:
        interval, count = 10, 6
        client = {"keepalives": 1, "keepalives_idle": idle}
        client |= {"keepalives_interval": interval, "keepalives_count": count}
        server += [f"tcp_keepalives_idle={idle}", f"tcp_keepalives_interval={interval}"]
        server += [f"tcp_keepalives_count={count}"]
        server.append(f"tcp_user_timeout={(idle + interval * count) * 1000}")
    if idle_in_transaction:
        # A backstop for a client alive but stuck: no transaction of Steve's waits this
        # long between two statements (a task is killed at 660 s, a web request at 30 s).
        server.append(f"idle_in_transaction_session_timeout={idle_in_transaction * 1000}")
    if server:
        given = str(options.get("options", ""))
        client["options"] = " ".join([*(f"-c {setting}" for setting in server), given]).strip()
    return {key: value for key, value in client.items() if key not in options or key == "options"}


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("STEVE_TESTING", False)


def data_dir_folder(path: Path, *, probe: bool) -> Path:
    """`path` (DATA_DIR or a folder in it), made if missing; with `probe`, a file is
    written there first, so a folder Steve cannot write to is named here, at start, and
    not by a worker that dies at its first message or a beat that cannot keep its
    schedule."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if probe:
            with tempfile.TemporaryFile(dir=path):
                pass
    except OSError as error:
        raise ImproperlyConfigured(
            f"DATA_DIR must be a folder Steve can write to, got {str(DATA_DIR)!r}: "
            f"{error.strerror or error} ({path})"
        ) from None
    return path


DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
# The embedded defaults keep everything under DATA_DIR; make it on first start. Not
# probed: with PostgreSQL, Redis and S3 nothing is written there, and it may be read-only.
data_dir_folder(DATA_DIR, probe=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public origin used to build absolute upload and download URLs.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "steve.apps.SteveAdminConfig",  # django.contrib.admin with a superusers-only site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "steve",
    "webhooks",
    "submissions",
    "fraud",
    "jobs",
]

MIDDLEWARE = [
    "steve.middleware.RequestIdMiddleware",
    "steve.middleware.NulCharacterMiddleware",
    "steve.api.ratelimit.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (htmx, css, the API docs' assets) from gunicorn without a proxy.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # OPTIONS under /api/v1/: 204 and Allow, with no key read and no bucket spent.
    "steve.api.options.ApiOptionsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "steve.middleware.ContentSecurityPolicyMiddleware",
    "steve.middleware.PrivatePagesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "steve.middleware.ApiProblemMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes) for /accounts/login/ and /admin/login/: after
# LOGIN_FAILURE_LIMIT wrong passwords for a username, that username is locked out for
# LOGIN_LOCKOUT_MINUTES (a 429 page), even with the right password. An admin unlocks it
# by deleting its "Access attempts" in the admin, or with `manage.py axes_reset_username`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# By username: behind a proxy every client may share one address. axes.W006 warns that
# locking by user agent or cookie alone can be dodged; locking by username cannot.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# The 429 page in Steve's layout, saying how long the lock lasts (axes answers plain text).
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_CLIENT_IP_CALLABLE = "steve.clientip.client_address"
# Password spraying (a few passwords against many usernames) stays under the username
# lock for every one of them: an address with this many failed sign-ins, whatever the
# usernames, is refused (429) until LOGIN_ADDRESS_WINDOW_MINUTES after its first one
# (steve.loginlimit). Higher than LOGIN_FAILURE_LIMIT: an office behind one NAT shares it.
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
LOGIN_ADDRESS_WINDOW_MINUTES = env_int("LOGIN_ADDRESS_WINDOW_MINUTES", 15, minimum=1)

ROOT_URLCONF = "steve.urls"
WSGI_APPLICATION = "steve.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "steve.accounts.review_context",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        "DATABASE_URL", env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'steve.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds a statement of a web request may run before PostgreSQL cancels it: under
# gunicorn's 30-s timeout (steve.gunicorn_conf), so the caller gets a 503 rather than a
# killed worker's HTML 500. The web process only (steve.webdb); 0 = no limit.
WEB_STATEMENT_TIMEOUT_SECONDS = env_int("WEB_STATEMENT_TIMEOUT_SECONDS", 25, minimum=0)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # models.W047: SQLite cannot make fraud_match_unique_pair (nulls not distinct), so
    # Django skips it and warned on every scripts/dev start. Not needed there: SQLite's
    # IMMEDIATE transactions already serialise the fraud checks' lookup-and-insert, as
    # the advisory lock does on PostgreSQL, where the constraint exists.
    SILENCED_SYSTEM_CHECKS.append("models.W047")


def redis_url(name: str) -> str:
    """The Redis URL in `name`, or "". Checked here because its users read it differently:
    redis-py (the cache) ignores a database that is not a number and uses 0, where kombu
    (the broker) refuses it when a worker starts, and a bad port fails only at first use."""
    url = env_str(name)
    if not url:
        return url
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"{name} must start with redis://, rediss:// or unix://, got {redacted(url)!r}"
        )
    parsed = checked_url(name, url)
    database = parsed.path.strip("/")
    if parsed.scheme != "unix" and database and not database.isdigit():
        raise ImproperlyConfigured(
            f"{name}: the database number (redis://host:6379/0) must be a number, "
            f"got {redacted(url)!r}"
        )
    return url


REDIS_URL = redis_url("REDIS_URL")

# A task's message stays unacknowledged until it ends (acks_late); Redis hands it to
# another worker once this passes. Longer than the longest task (process_session's hard
# limit, 660 s), so a slow job is never run twice by it; a worker killed mid-job is
# recovered sooner by its session's heartbeat (STUCK_SESSION_HEARTBEAT_SECONDS).
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 900, minimum=60)

# Seconds to wait for the broker to accept a connection before a publish counts as failed.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2, minimum=1)
if REDIS_URL:
    from steve import redis_pause

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "steve",
            # A dead Redis must fail fast: API auth then reads the database instead.
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                # A Redis that does not answer is waited for once a while, not per call.
                "connection_class": redis_pause.connection_class(REDIS_URL),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
        # A Redis that accepts connections and never answers (stopped, or cut off by a
        # network partition) held a submit for 30 s and ended it in a 500: a publish
        # waits this long for an answer, then the task waits in the outbox. Above the
        # worker's 1-s blocking read of its queue.
        "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 3, minimum=2),
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
        # TCP keepalive (kombu's `socket_keepalive` transport option): a connection that
        # a network cut or a NAT's idle reaper dropped without a word is found dead by the
        # kernel; the worker's queue poll waits on the socket in its event loop, not on a
        # read with a timeout, and would otherwise wait on the dead one. kombu's
        # `health_check_interval` (25 s, its default) already pings idle connections.
        # Not `retry_on_timeout`: a publish would wait twice the socket timeout, and a
        # push that reached Redis before the timeout would be pushed twice.
        "socket_keepalive": True,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Kombu's file-system transport: a broker that needs no server, shared by the
    # web process, the worker and beat on one machine.
    # Named host: a bare "filesystem://" made kombu log "No hostname was supplied" in
    # every process that sends or takes a task.
    CELERY_BROKER_URL = "filesystem://localhost//"
    # Kombu's own writes a message in place; a worker can read it half-written and stop.
    CELERY_BROKER_TRANSPORT = "steve.devbroker:Transport"
    # Every process writes there (a publish, a worker's queue bindings).
    _broker_dir = data_dir_folder(DATA_DIR / "broker", probe=True)
    data_dir_folder(DATA_DIR / "broker-control", probe=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(DATA_DIR / "broker-control"),
    }

# Seconds an authenticated API key is kept in the cache. Without Redis the cache is each
# process's own, where a key revoked by another process (the admin's, a shell) would stay
# live until it lapsed: keys are then read from the database on every request.
API_KEY_CACHE_SECONDS = 60 if REDIS_URL else 0
# Seconds the review desk keeps a page render for the next reviewer (submissions.
# page_cache). Without Redis the cache is the web process's memory, bounded by entries,
# not bytes: renders of up to 8 MB each, kept by the hundred, grew it by gigabytes. The
# browser's own copy (the page's ETag) still spares a render there.
PAGE_RENDER_CACHE_SECONDS = 600 if REDIS_URL else 0

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# No retry: every task Steve sends is also kept in the database (the task outbox, webhook
# deliveries) and sent again by beat, so a failed publish delays a task by seconds and
# loses none. A retry reconnected, and against a Redis that takes connections but never
# answers (stopped, cut off) each new connection's handshake waited out the socket
# timeout too: one retry made a publish wait 9 s, not 3. A connection Redis closed (a
# restart) is replaced by redis-py's pool before it is used, without a retry.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Not cancelled on a lost broker connection (Celery's default, said explicitly since
# Celery 6 is to flip it): a running pipeline keeps its session's claim and heartbeat,
# and a redelivered message finds the session taken; cancelling would count each blip
# as a worker death towards STUCK_SESSION_MAX_REQUEUES.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_DEFAULT_QUEUE = "processing"
# Beat's sweeps have a queue of their own, which every worker consumes whatever its -Q
# (steve.celery): light and frequent, they were stuck behind OCR on `processing`, then
# behind slow receivers on `deliveries` (minutes late under a load helper's probe, the
# sweep that rescues stuck jobs among them).
CELERY_MAINTENANCE_QUEUE = "maintenance"
CELERY_TASK_ROUTES = {
    "steve.tasks.relay_outbox": {"queue": CELERY_MAINTENANCE_QUEUE},
    "jobs.tasks.recover_stuck_sessions": {"queue": CELERY_MAINTENANCE_QUEUE},
    "jobs.tasks.expire_sessions": {"queue": CELERY_MAINTENANCE_QUEUE},
    "jobs.tasks.purge_expired_data": {"queue": CELERY_MAINTENANCE_QUEUE},
    "webhooks.tasks.dispatch_due_webhooks": {"queue": CELERY_MAINTENANCE_QUEUE},
    "webhooks.tasks.purge_old_webhook_deliveries": {"queue": CELERY_MAINTENANCE_QUEUE},
    "steve.tasks.purge_idempotency_keys": {"queue": CELERY_MAINTENANCE_QUEUE},
    "steve.tasks.sweep_partial_writes": {"queue": CELERY_MAINTENANCE_QUEUE},
    "fraud.tasks.withdraw_missed_fraud_matches": {"queue": CELERY_MAINTENANCE_QUEUE},
    "webhooks.*": {"queue": "deliveries"},
}
# Each worker also consumes a queue of its own (`<node>.dq`), where the liveness check
# (`manage.py worker_liveness`, steve.liveness) sends its probe: no other worker takes it.
CELERY_WORKER_DIRECT = True
# A worker that did not take the liveness probe and has received or finished no task for
# this long no longer consumes: the check fails. Longer than the longest task
# (process_session's hard limit, 660 s): a worker whose every slot runs one is busy.
WORKER_STALE_MINUTES = env_int("WORKER_STALE_MINUTES", 15, minimum=1)
# How often a worker running tasks puts back its liveness record if Redis lost it (a
# restart or failover brings it back empty): well under the health check's interval.
WORKER_LIVENESS_RESTORE_SECONDS = env_int("WORKER_LIVENESS_RESTORE_SECONDS", 10, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "steve.tasks.relay_outbox", "schedule": timedelta(seconds=5)},
    "expire-sessions": {"task": "jobs.tasks.expire_sessions", "schedule": timedelta(minutes=1)},
    "recover-stuck-sessions": {
        "task": "jobs.tasks.recover_stuck_sessions",
        "schedule": timedelta(seconds=15),
    },
    "purge-retention": {"task": "jobs.tasks.purge_expired_data", "schedule": timedelta(hours=1)},
    "dispatch-due-webhooks": {
        "task": "webhooks.tasks.dispatch_due_webhooks",
        # The first retry is due ~5 s after a failure (docs/webhooks.md).
        "schedule": timedelta(seconds=5),
    },
    "purge-old-webhook-deliveries": {
        "task": "webhooks.tasks.purge_old_webhook_deliveries",
        "schedule": timedelta(hours=1),
    },
    "purge-idempotency-keys": {
        "task": "steve.tasks.purge_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    # What a local-disk write killed before its rename left (steve.storage.store).
    "sweep-partial-writes": {
        "task": "steve.tasks.sweep_partial_writes",
        "schedule": timedelta(hours=1),
    },
    # What a cancel's or failure's own withdrawal left open (a process killed between
    # the two commits, a withdrawal that raised): docs/fraud.md.
    "withdraw-fraud-matches": {
        "task": "fraud.tasks.withdraw_missed_fraud_matches",
        "schedule": timedelta(minutes=1),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")


def s3_credentials(access_key: str, secret_key: str) -> None:
    """Both keys, or neither (then boto's own chain: AWS_* variables, an instance or task
    role). One alone was dropped in favour of that chain, and every upload failed."""
    if access_key and not secret_key:
        raise ImproperlyConfigured(
            "S3_ACCESS_KEY_ID is set without S3_SECRET_ACCESS_KEY: set both, or neither"
        )
    if secret_key and not access_key:
        raise ImproperlyConfigured(
            "S3_SECRET_ACCESS_KEY is set without S3_ACCESS_KEY_ID: set both, or neither"
        )


# Files: local file system by default, S3 (or any S3-compatible store) with STORAGE=s3.
STORAGE_BACKEND = env_str("STORAGE", "local")
if STORAGE_BACKEND not in {"local", "s3"}:
    raise ImproperlyConfigured(f"STORAGE must be 'local' or 's3', got {STORAGE_BACKEND!r}")
if STORAGE_BACKEND == "local" and env_str("S3_BUCKET"):
    # A bucket named without STORAGE=s3 kept every file on the web container's own disk,
    # where the workers cannot read it and a restart loses it.
    raise ImproperlyConfigured(
        "S3_BUCKET is set but STORAGE is 'local': set STORAGE=s3 to keep files in the "
        "bucket (or unset S3_BUCKET to keep them under DATA_DIR)"
    )
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# botocore's own defaults wait 60 s to connect and 60 s for each answer, over 4 retries:
# an S3 that stopped answering held a request until gunicorn killed its worker (30 s)
# and the caller got the proxy's 504. Given up within the web's time limit, it is a 503
# STORAGE_UNAVAILABLE from Steve (steve.storage).
S3_CLIENT_CONFIG = BotoConfig(
    connect_timeout=3,
    read_timeout=8,
    retries={"total_max_attempts": 2, "mode": "standard"},
    signature_version="s3v4",
)
if STORAGE_BACKEND == "s3":
    _s3_bucket = env_str("S3_BUCKET")
    if not _s3_bucket:
        raise ImproperlyConfigured("S3_BUCKET is required when STORAGE=s3")
    s3_credentials(env_str("S3_ACCESS_KEY_ID"), env_str("S3_SECRET_ACCESS_KEY"))
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "region_name": env_str("S3_REGION", "us-east-1"),
            "querystring_expire": 3600,
            "file_overwrite": True,
            "default_acl": None,
            # With a client_config, django-storages reads the signature version and
            # addressing style from it alone.
            "client_config": S3_CLIENT_CONFIG.merge(
                BotoConfig(s3={"addressing_style": env_str("S3_ADDRESSING_STYLE", "path")})
            ),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/review/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
# A date and time the admin shows says it is UTC, as the review desk's do.
FORMAT_MODULE_PATH = ["steve.formats"]

# Uploads arrive by PUT through Steve only with local storage; the limit guards memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 26_214_400, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["steve.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "steve.api.negotiation.JsonWhateverAccept",
    "DEFAULT_PARSER_CLASSES": ["steve.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "steve.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # The rate limit, then the 411 of a chunked write body (steve.api.chunked), the 413
    # of one larger than its operation reads (steve.api.bodysize), then the 400 of a
    # query parameter the operation does not take (steve.api.query).
    "DEFAULT_THROTTLE_CLASSES": [
        "steve.api.ratelimit.BucketRateThrottle",
        "steve.api.chunked.RefuseChunkedBody",
        "steve.api.bodysize.RefuseLargeBody",
        "steve.api.query.RefuseUnknownQueryParams",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Requests per minute per API key and bucket (STEVE-API.md); a company's
# Company.rate_limits overrides any of them. `poll` is per polled session/job.
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATE_LIMITS = {
    "read": env_int("RATE_LIMIT_READ", 300, minimum=1),
    "session": env_int("RATE_LIMIT_SESSION", 60, minimum=1),
    "submit": env_int("RATE_LIMIT_SUBMIT", 20, minimum=1),
    "write": env_int("RATE_LIMIT_WRITE", 120, minimum=1),
    "webhook_test": env_int("RATE_LIMIT_WEBHOOK_TEST", 10, minimum=1),
    "poll": env_int("RATE_LIMIT_POLL", 60, minimum=1),
    "upload": env_int("RATE_LIMIT_UPLOAD", 300, minimum=1),
    # Per client address, not per key: requests no valid key answers for. Also the limit
    # on unknown API keys; past it they are refused without a database query.
    "anonymous": env_int("RATE_LIMIT_ANONYMOUS", 120, minimum=1),
    # Per revoked key: its 403s, which must not spend its address's `anonymous` bucket.
    "revoked": env_int("RATE_LIMIT_REVOKED", 120, minimum=1),
}
# Reverse proxies in front of Steve that append to X-Forwarded-For (steve.clientip);
# 0 trusts no header and takes the socket's address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Idempotency-Key rows are kept this long; an in-flight row older than the timeout is
# taken to belong to a crashed request and may be taken over.
IDEMPOTENCY_KEY_TTL = timedelta(days=env_int("IDEMPOTENCY_KEY_TTL_DAYS", 7, minimum=1))
IDEMPOTENCY_IN_FLIGHT_TIMEOUT = timedelta(
    seconds=env_int("IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS", 120, minimum=1)
)

SPECTACULAR_SETTINGS = {
    "TITLE": "Steve API",
    "DESCRIPTION": "Steve's public REST API: workflows, sessions, polling, submission review.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["steve.api.schema.only_public_api"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "steve.api.schema.finish_schema",
    ],
    # Served from static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

SESSION_TTL = timedelta(minutes=env_int("SESSION_TTL_MINUTES", 30, minimum=1))
UPLOAD_URL_TTL = timedelta(minutes=env_int("UPLOAD_URL_TTL_MINUTES", 30, minimum=1))
DOWNLOAD_URL_TTL = timedelta(hours=1)
# A queued session no worker took for this long lost its message: it is queued again
# (later copies wait longer, up to an hour: jobs.services._queued_too_long).
STUCK_SESSION_MINUTES = env_int("STUCK_SESSION_MINUTES", 15, minimum=1)
# A running session whose worker's heartbeat is older than this died with its worker;
# with the sweep every 15 s it is re-queued within about 2 minutes of the crash.
STUCK_SESSION_HEARTBEAT_SECONDS = env_int("STUCK_SESSION_HEARTBEAT_SECONDS", 90, minimum=5)
# How often a running pipeline renews its heartbeat (well under the threshold above).
SESSION_HEARTBEAT_EVERY_SECONDS = env_int("SESSION_HEARTBEAT_EVERY_SECONDS", 20, minimum=1)
# How long reading one page may take. A dense A4 scan (80 lines of small print) reads in
# ~17 s on a 2-core EPYC (bench/RESULTS.md) and 2-3x that on slower cores: a long PDF of
# them needs more than any one limit for the whole file, and one page is never near this.
EXTRACTION_PAGE_SECONDS = env_int("EXTRACTION_PAGE_SECONDS", 120, minimum=1)
# How long a session's files may take to read, all together: under process_session's soft
# time limit (600 s), with time left for the fraud checks and the decision.
EXTRACTION_BUDGET_SECONDS = env_int("EXTRACTION_BUDGET_SECONDS", 480, minimum=1)
STUCK_SESSION_MAX_REQUEUES = env_int("STUCK_SESSION_MAX_REQUEUES", 3, minimum=0)
# The OCR engine's variables, checked here so a typo stops Steve at start instead of
# failing every job. jobs.extraction.ocr reads the environment itself: it also runs
# without Django (bench/, the extract command's engine), with these same defaults.
STEVE_OCR_ENGINE = env_choice("STEVE_OCR_ENGINE", "rapidocr", ("rapidocr", "tesseract"))
STEVE_OCR_THREADS = env_int("STEVE_OCR_THREADS", 1, minimum=1)
STEVE_OCR_HEAD_LINES = env_int("STEVE_OCR_HEAD_LINES", 12, minimum=0)
# Results at or above this size are returned as a pointer to a stored JSON object.
LARGE_RESULT_BYTES = env_int("LARGE_RESULT_BYTES", 5 * 1024 * 1024, minimum=1)
RETENTION_DAYS = env_int("RETENTION_DAYS", 30, minimum=1)
# How long a submission may wait in the review queue before the queue shows it as late.
REVIEW_SLA = timedelta(hours=env_int("REVIEW_SLA_HOURS", 24, minimum=1))
# Memory each worker process may spend on in-memory fraud indexes (fraud.visual), about
# 50 MiB per view per million pages; the least recently searched companies are dropped
# beyond it and reloaded from PostgreSQL when next needed.
FRAUD_INDEX_MEMORY_MB = env_int("FRAUD_INDEX_MEMORY_MB", 512, minimum=1)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", WEBHOOKS_ALLOW_PRIVATE_TARGETS)
# How long a rotated-out webhook secret keeps signing, and after how many hours of
# nothing but failed attempts an endpoint is disabled.
WEBHOOKS_SECRET_GRACE_HOURS = env_int("WEBHOOKS_SECRET_GRACE_HOURS", 24, minimum=0)
WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = env_int(
    "WEBHOOKS_DISABLE_AFTER_FAILING_HOURS", 120, minimum=1
)
# CA bundle that webhook targets' certificates must chain to; empty: certifi's bundle.
WEBHOOKS_CA_BUNDLE = env_str("WEBHOOKS_CA_BUNDLE")
# Finished webhook deliveries and their attempt logs are kept this long.
WEBHOOKS_RETENTION_DAYS = env_int("WEBHOOKS_RETENTION_DAYS", 30, minimum=1)

# A reviewer's sign-in lasts a working day, not Django's two weeks: the desk shows
# receipts and names, and is often used on shared computers.
SESSION_COOKIE_AGE = env_int("SIGN_IN_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS-terminating proxy (README, "Production settings"). Only set
# SECURE_PROXY_SSL_HEADER=1 when the proxy always sets X-Forwarded-Proto itself: a
# client could otherwise claim https.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Health checks come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"
# The review UI reads the CSRF token from the page (hx-headers), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
# An htmx request refused for a stale token gets the current one back (a sign-in in
# another tab rotated it), so the page's retry goes through.
CSRF_FAILURE_VIEW = "steve.accounts.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOG_LEVEL = env_choice(
    "LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "steve.middleware.RequestIdLogFilter"},
        "redact_tokens": {"()": "steve.logredact.RedactTokensFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(company)s] %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own console handler (DEBUG only) printed each 4xx a second time, bare: its
    # records go to the root handler alone.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
