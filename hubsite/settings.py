"""WOW AI Hub settings: one module, driven by the environment (see .env.example).

With no environment at all the Hub runs on an embedded SQLite file in ``HUB_DATA_DIR`` (``./data``),
with a secret key and an encryption key generated there on first start.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from hubsite.data_dir import private_dir, private_sqlite, write_private_text

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DATA_DIR = Path(env.str("HUB_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
private_dir(DATA_DIR)  # the database, its sessions and the generated keys: the Hub's user only


def _data_file_secret(name: str, generate: str) -> str:
    """Read a generated secret kept in the data directory, creating it on first use."""
    path = DATA_DIR / name
    if not path.exists():
        write_private_text(path, generate)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _data_file_secret("secret_key", secrets.token_urlsafe(50))
# Label Studio reaches the Hub by whatever name its network gives it (a compose service name, an IP),
# so the trial accepts any host; production deployments narrow this.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Served over HTTPS (by a proxy in front, which must set X-Forwarded-Proto and drop a client's own):
# session and CSRF cookies only over HTTPS, HSTS on every secure answer, and requests the proxy marks
# https count as secure. No redirect of plain HTTP: Label Studio may reach the Hub on an inner network.
HUB_HTTPS = env.bool("HUB_HTTPS", default=False)
if HUB_HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("HUB_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Fernet keys for secrets at rest: the first encrypts, every key decrypts (rotation: prepend a new key).
HUB_ENCRYPTION_KEYS = env.list("HUB_ENCRYPTION_KEYS", default=[]) or [
    _data_file_secret("encryption_key", Fernet.generate_key().decode())
]

INSTALLED_APPS = [
    "registry.admin_config.HubAdminConfig",  # Django's admin with the Hub's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "registry",
    "inference",
    "training",
    "api",
    "jobs",
    "hubsite",  # the shell: its settings checks and the quickstart command
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.metrics.ProtocolMetricsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.pages.PageMiddleware",
]
# Only for the admin, the API docs and static files (core/pages.py): protocol calls skip them.
PAGE_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]
# The admin's and django-axes' checks look for their middleware in MIDDLEWARE only.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "axes.W002"]

# Admin login throttling (django-axes, its attempts in the database, so every worker and SQLite or
# PostgreSQL alike): after HUB_LOGIN_FAILURES wrong passwords for one username from one client address,
# that pair is refused, the right password included, for HUB_LOGIN_LOCKOUT_MINUTES (every further try
# restarts the wait); a success clears the count. An admin resets it under *Access attempts* or with
# `manage.py axes_reset_username <name>`. Per username and address together, so nobody can lock the
# admin out from elsewhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("HUB_LOGIN_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("HUB_LOGIN_LOCKOUT_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "registry.login_lockout.lockout_response"

ROOT_URLCONF = "hubsite.urls"
WSGI_APPLICATION = "hubsite.wsgi.application"
# Label Studio joins "<backend url>/" + "predict": a redirect to a slashed URL would break its POSTs.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'hub.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the admin and the protocol endpoints read while a write is in flight; IMMEDIATE
    # transactions take the write lock up front instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so that a gunicorn server started by the tests sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    if DATABASES["default"]["NAME"] != ":memory:":
        private_sqlite(Path(DATABASES["default"]["NAME"]))
# Connections are kept per thread between requests: opening one (and, on SQLite, its PRAGMAs)
# cost more than the whole rest of a /health. The health check replaces one the server dropped.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Not ATOMIC_REQUESTS: /predict must not hold a transaction (and, on SQLite, the write lock) while a
# model computes; services open short transactions around each unit of writes instead.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Object storage for the folders classic fit(completions, workdir) writes (training/workdirs.py), as
# JSON: {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "hub"}}. Unset: the
# data directory is their only home.
if env.str("HUB_TRAINING_STORAGE", default=""):
    STORAGES["training"] = env.json("HUB_TRAINING_STORAGE")
# Serve admin assets straight from the apps in the trial, so no collectstatic step is needed there.
WHITENOISE_USE_FINDERS = True

# The prediction cache (inference/prediction_cache.py): this process's memory by default; a
# redis:// URL shares it between every worker and replica.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hub-default"},
    "predictions": env.cache_url("HUB_CACHE_URL", default="locmemcache://hub-predictions"),
}
CACHES["predictions"].setdefault("OPTIONS", {})
if CACHES["predictions"]["BACKEND"].endswith("LocMemCache"):
    CACHES["predictions"]["OPTIONS"].setdefault(
        "MAX_ENTRIES", env.int("HUB_PREDICTION_CACHE_ENTRIES", default=20_000)
    )
elif CACHES["predictions"]["BACKEND"].endswith("RedisCache"):
    # The cache is an optimisation: a Redis that stops answering must cost a request little.
    for option in ("socket_connect_timeout", "socket_timeout"):
        CACHES["predictions"]["OPTIONS"].setdefault(
            option, env.float("HUB_CACHE_TIMEOUT_SECONDS", default=0.5)
        )
# After the prediction cache failed, it is left alone this long (its calls are misses meanwhile).
HUB_CACHE_RETRY_SECONDS = env.float("HUB_CACHE_RETRY_SECONDS", default=5.0)
# How often each worker writes its traffic counters (registry/counters.py); 0: with every request.
HUB_COUNTER_FLUSH_SECONDS = env.float("HUB_COUNTER_FLUSH_SECONDS", default=1.0)
# How long the per-minute traffic rollup behind the admin's charts is kept.
HUB_TRAFFIC_RETENTION_DAYS = env.float("HUB_TRAFFIC_RETENTION_DAYS", default=7.0)
HUB_PREDICTION_CACHE_SECONDS = env.int("HUB_PREDICTION_CACHE_SECONDS", default=24 * 3600)

# Label Studio sends every selected task of "Retrieve Predictions" in one body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("HUB_MAX_BODY_BYTES", default=50 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.HubJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    # Who a client is, for every throttle (protocol credentials, API tokens, admin login): the peer's
    # address, or with HUB_NUM_PROXIES=N the address the Nth proxy from the Hub recorded in
    # X-Forwarded-For. Unset, DRF would take the whole header, which a client writes as it likes.
    "NUM_PROXIES": env.int("HUB_NUM_PROXIES", default=0),
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WOW AI Hub",
    "DESCRIPTION": "A multi-model ML gateway speaking Label Studio's ML-backend protocol.",
    "VERSION": "0.1.0",
    # Serve Swagger UI's assets from the Hub itself: hosted gateways often have no route to a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Hub behaviour.
HUB_MODEL_CACHE_SIZE = env.int("HUB_MODEL_CACHE_SIZE", default=32)
HUB_MAX_TASKS_PER_REQUEST = env.int("HUB_MAX_TASKS_PER_REQUEST", default=10_000)
HUB_MAX_LABEL_CONFIG_BYTES = env.int("HUB_MAX_LABEL_CONFIG_BYTES", default=1024 * 1024)
# (connect, read) seconds for every outbound call unless the caller passes its own.
HUB_OUTBOUND_TIMEOUT = (
    env.float("HUB_OUTBOUND_CONNECT_TIMEOUT", default=2.0),
    env.float("HUB_OUTBOUND_READ_TIMEOUT", default=25.0),
)
# Label Studio's local storage: SDK models read /data/local-files/?d=<path> and plain paths from disk
# only under this folder (the same variable as Label Studio's); unset, no file path is read.
LOCAL_FILES_DOCUMENT_ROOT = env.str("LOCAL_FILES_DOCUMENT_ROOT", default="")
HUB_MAX_MEDIA_BYTES = env.int("HUB_MAX_MEDIA_BYTES", default=50 * 1024 * 1024)
# Images: the largest one a task may name, and the pixels one worker holds decoded at once (an image
# is decoded only to turn it upright by its EXIF orientation; beyond the budget the task gets an error).
HUB_MAX_IMAGE_PIXELS = env.int("HUB_MAX_IMAGE_PIXELS", default=100_000_000)
HUB_MAX_DECODED_PIXELS = env.int("HUB_MAX_DECODED_PIXELS", default=200_000_000)
# Results a model may answer for one task, and bytes one answer of a model server may weigh, unless the
# model sets its own (max_regions_per_task, max_response_bytes); beyond them, that task's error.
HUB_MAX_REGIONS_PER_TASK = env.int("HUB_MAX_REGIONS_PER_TASK", default=2000)
HUB_MAX_UPSTREAM_RESPONSE_BYTES = env.int("HUB_MAX_UPSTREAM_RESPONSE_BYTES", default=20 * 1024 * 1024)
# Per model server and worker: after this many failed calls in a row the Hub stops calling it for
# the cool-down, then lets one probe call through (success closes the breaker, failure re-opens it).
HUB_BREAKER_FAILURES = env.int("HUB_BREAKER_FAILURES", default=5)
HUB_BREAKER_COOLDOWN_SECONDS = env.float("HUB_BREAKER_COOLDOWN_SECONDS", default=10.0)
# Serving capacity per worker (inference/admission.py). GUNICORN_THREADS is what hubsite/gunicorn.conf.py
# serves with; HUB_CONTROL_THREADS of them are never given to /predict, so /health, /setup, /webhook and
# the admin always find one; one model holds at most HUB_MODEL_SHARE of the rest, running plus waiting.
# A /predict beyond that is answered 503 at once, with Retry-After: HUB_BUSY_RETRY_AFTER_SECONDS.
HUB_SERVING_THREADS = env.int("GUNICORN_THREADS", default=32)
HUB_CONTROL_THREADS = env.int("HUB_CONTROL_THREADS", default=4)
HUB_MODEL_SHARE = env.float("HUB_MODEL_SHARE", default=0.5)
HUB_BUSY_RETRY_AFTER_SECONDS = env.int("HUB_BUSY_RETRY_AFTER_SECONDS", default=1)
if HUB_SERVING_THREADS <= HUB_CONTROL_THREADS:
    raise ImproperlyConfigured(
        f"GUNICORN_THREADS ({HUB_SERVING_THREADS}) must be more than HUB_CONTROL_THREADS "
        f"({HUB_CONTROL_THREADS}): the threads kept for the control plane would leave none for /predict."
    )
# A call waits for a place in its model server's bulkhead (max_concurrency) at most the longer of this
# and the model's timeout, then its task fails as busy: with the call itself, twice the model's timeout.
HUB_BULKHEAD_WAIT_SECONDS = env.float("HUB_BULKHEAD_WAIT_SECONDS", default=30.0)
# Where media may come from (task data names it, so it is untrusted; see core/egress.py). Always
# from the project's Label Studio (its base URL's host and port, even on loopback or a private network);
# from public addresses unless HUB_MEDIA_ALLOW_PUBLIC=false; and from the hosts listed in
# HUB_MEDIA_ALLOWED_HOSTS, comma-separated: a host name on any port ("minio"), one port of a host
# ("minio:9000", "[fd00::5]:9000"), an IP address, or a CIDR network ("10.0.0.0/8") -- e.g. a private
# S3 endpoint that presigned URLs point to. Other loopback, private, link-local and cloud metadata
# addresses are refused, and so are all addresses a refused name resolves to.
# The project's Label Studio on a loopback or private address: trusted when an admin set its URL, and
# when it only came from /setup if this is true (the one-machine trial). On a Hub that models without
# credentials expose to others, set it false: whoever can call /setup could name an internal address.
HUB_MEDIA_TRUST_SETUP_HOSTNAME = env.bool("HUB_MEDIA_TRUST_SETUP_HOSTNAME", default=True)
HUB_MEDIA_ALLOW_PUBLIC = env.bool("HUB_MEDIA_ALLOW_PUBLIC", default=True)
HUB_MEDIA_ALLOWED_HOSTS = env.list("HUB_MEDIA_ALLOWED_HOSTS", default=[])
# Where model servers may be (core/egress.py ModelHostPolicy), comma-separated: host names ("gpu1"),
# every name under a domain ("*.gpu.example.com"), either with ":port", IP addresses and CIDR networks.
# Checked when a model is registered or changed (admin, CLI, REST API) and on every call to its server.
# Empty: model servers may be anywhere (an admin registers them).
HUB_MODEL_HOSTS_ALLOWED = env.list("HUB_MODEL_HOSTS_ALLOWED", default=[])
# Single-model mode (wow-ai-ml start): the model with this slug also answers at the root.
HUB_STANDALONE_MODEL = env.str("HUB_STANDALONE_MODEL", default="")
if HUB_STANDALONE_MODEL:
    ROOT_URLCONF = "hubsite.standalone"
# A backend served alone (wow-ai-ml start, or init_app in a backend's _wsgi.py): the Label Studio its
# operator names in LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, as label-studio-ml-backend reads them, for
# every project whose instance has no URL or key set in the admin. A shared Hub never reads them: each
# of its projects reaches its own Label Studio only.
HUB_SERVED_ALONE = env.bool("HUB_SERVED_ALONE", default=bool(HUB_STANDALONE_MODEL))
HUB_OPERATOR_LABEL_STUDIO_URL = env.str("LABEL_STUDIO_URL", default="") if HUB_SERVED_ALONE else ""
HUB_OPERATOR_LABEL_STUDIO_API_KEY = env.str("LABEL_STUDIO_API_KEY", default="") if HUB_SERVED_ALONE else ""
HUB_BASIC_AUTH_USER = env.str("HUB_BASIC_AUTH_USER", default="")
HUB_BASIC_AUTH_PASS = env.str("HUB_BASIC_AUTH_PASS", default="")
if HUB_BASIC_AUTH_USER and HUB_BASIC_AUTH_PASS:
    MIDDLEWARE.insert(0, "hubsite.standalone.BasicAuthMiddleware")
# Protocol credentials (registry/access.py): a verified basic-auth credential is remembered per worker
# this long, and a client that failed this many times for a model within the window gets 429 until
# its oldest failure leaves it.
HUB_AUTH_CACHE_SECONDS = env.float("HUB_AUTH_CACHE_SECONDS", default=60.0)
HUB_AUTH_FAILURES = env.int("HUB_AUTH_FAILURES", default=10)
HUB_AUTH_FAILURE_WINDOW_SECONDS = env.float("HUB_AUTH_FAILURE_WINDOW_SECONDS", default=60.0)
# Empty: /metrics answers only clients on this machine (loopback); else whoever brings this bearer token.
HUB_METRICS_TOKEN = env.str("HUB_METRICS_TOKEN", default="")
HUB_PUBLIC_URL = env.str("HUB_PUBLIC_URL", default="http://localhost:9090").rstrip("/")

# Background jobs (Celery). Jobs live in the database; the broker only carries "run job N".
_BROKER_DIR = Path(env.str("HUB_BROKER_DIR", default=str(DATA_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        # A queued job starts within a tenth of a second rather than a second (kombu's default).
        "polling_interval": 0.1,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="hub")
CELERY_TASK_IGNORE_RESULT = True
# A job's message is acknowledged only when it ends, and a worker that dies gives it back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a webhook when the broker is down: the job row is the source of truth
# and the reaper re-publishes queued jobs. The timeout bounds a publish's connecting, retries included.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=0.5)
CELERY_TASK_PUBLISH_RETRY = False
# The worker waits out a broker outage of any length and reconnects, instead of exiting when Redis
# restarts (this setting counts only the worker's reconnection attempts, not publishing).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

# The REST API (api/auth.py): a client with this many failed token checks in a window gets 429 till its end.
HUB_API_AUTH_FAILURE_LIMIT = env.int("HUB_API_AUTH_FAILURE_LIMIT", default=20)
HUB_API_AUTH_FAILURE_WINDOW_SECONDS = env.int("HUB_API_AUTH_FAILURE_WINDOW_SECONDS", default=300)

# Training.
HUB_TRAINING_DEBOUNCE_SECONDS = env.float("HUB_TRAINING_DEBOUNCE_SECONDS", default=3.0)
HUB_JOB_HEARTBEAT_SECONDS = env.float("HUB_JOB_HEARTBEAT_SECONDS", default=2.0)
# A running job whose heartbeat is older than this belonged to a worker that died.
HUB_JOB_STALE_SECONDS = env.float("HUB_JOB_STALE_SECONDS", default=30.0)

# Pre-annotation jobs (jobs/): tasks read from Label Studio per page, predicted and written per batch.
HUB_PREANNOTATION_PAGE_SIZE = env.int("HUB_PREANNOTATION_PAGE_SIZE", default=500)
HUB_PREANNOTATION_BATCH_SIZE = env.int("HUB_PREANNOTATION_BATCH_SIZE", default=100)
# At most this many predictions per bulk import (each import is one request and one transaction in
# Label Studio, which then recounts the counters of the tasks it wrote: a few large imports beat many small).
HUB_PREANNOTATION_WRITE_SIZE = env.int("HUB_PREANNOTATION_WRITE_SIZE", default=1000)
# A job never starves interactive /predict calls of its model: its calls hold at most this share of the
# model server's max_concurrency places, always leaving one free (registry/model_server.py). Its threads
# may also run nicer than the web workers' (Linux; off by default: bench/README.md found no difference).
HUB_PREANNOTATION_MODEL_SHARE = env.float("HUB_PREANNOTATION_MODEL_SHARE", default=0.75)
HUB_PREANNOTATION_NICE = env.int("HUB_PREANNOTATION_NICE", default=0)
if not 0 < HUB_PREANNOTATION_MODEL_SHARE <= 1:
    raise ImproperlyConfigured(
        f"HUB_PREANNOTATION_MODEL_SHARE ({HUB_PREANNOTATION_MODEL_SHARE}) must be above 0 and at most 1."
    )
# (connect, read) seconds for a job's calls to Label Studio's API (a page of tasks, a bulk import).
HUB_LABEL_STUDIO_TIMEOUT = (
    env.float("HUB_LABEL_STUDIO_CONNECT_TIMEOUT", default=2.0),
    env.float("HUB_LABEL_STUDIO_READ_TIMEOUT", default=60.0),
)

# Django logs the path of every 4xx/5xx request, and a path may hold a connection key: these loggers
# mask it (a filter on a logger, not on the handler, so every handler sees the masked message).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"connection_keys": {"()": "core.redact.ConnectionKeyFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["connection_keys"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"filters": ["connection_keys"]},
        "django.server": {"level": "WARNING", "filters": ["connection_keys"]},
    },
}
