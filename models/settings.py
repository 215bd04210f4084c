"""Configuration: one settings object, read once from the environment (and `.env`).

Plain data with no Flask in it, so the CLI, workers, the bot and the web app all read the same
values. Every knob is a `PARLEY_*` variable, plus the conventional `DATABASE_URL` and `REDIS_URL`, and
every one is declared here — type, default, meaning, whether it is a secret — so that validation,
`parley config show`, the report of unknown variables and the README check all come from one list. The
per-area classes (`ChannelSettings`, `LlmConfig`, `RasaSettings`) are views of this object.
"""

from __future__ import annotations

import difflib
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger(__name__)

# Variables read by the test harness and CI, not by Parley: known, so never reported as unknown.
TOOLING_VARS = ("PARLEY_REQUIRE_RASA", "PARLEY_TEST_PG_SCHEMA")



def _blank_none(raw: Any) -> Any:
    """An empty variable means "unset", as it always has here (a `NAME=` line in a .env)."""
    return None if isinstance(raw, str) and not raw.strip() else raw


def _commas(raw: Any) -> Any:
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _url(raw: Any) -> Any:
    raw = _blank_none(raw)
    if isinstance(raw, str):
        raw = raw.strip().rstrip("/")
        if not raw.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
    return raw


def _flag(raw: Any) -> Any:
    return raw.strip().lower() in ("1", "true", "yes", "on") if isinstance(raw, str) else raw


def _model_name(raw: Any) -> Any:
    raw = _blank_none(raw)
    if isinstance(raw, str) and ":" not in raw.strip():
        raise ValueError("must be 'provider:model' (e.g. 'openai:gpt-4o-mini')")
    return raw.strip() if isinstance(raw, str) else raw


Optional = Annotated[str | None, BeforeValidator(_blank_none)]
OptionalUrl = Annotated[str | None, BeforeValidator(_url)]
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_none)]
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_commas)]
Flag = Annotated[bool, BeforeValidator(_flag)]
OptionalFlag = Annotated[bool | None, BeforeValidator(lambda raw: _flag(_blank_none(raw)))]
ModelName = Annotated[str | None, BeforeValidator(_model_name)]


def _rate_limit(raw: Any) -> Any:
    """Checked at start, so a typo stops the process instead of failing every request."""
    if isinstance(raw, str):
        try:
            parse_many(raw)
        except ValueError:
            raise ValueError("must look like '30/minute' or '30/minute;300/hour'") from None
    return raw


RateLimit = Annotated[str, BeforeValidator(_rate_limit)]


def var(env: str, default: Any, doc: str, *, secret: bool = False, **constraints: Any) -> Any:
    """A field read from the variable `env`. `doc` is what `parley config show` and the README say."""
    return Field(default, validation_alias=env, description=doc, json_schema_extra={"env": env, "secret": secret},
                 repr=not secret, **constraints)


# `Settings.from_env(env)` reads the given mapping only; `Settings.from_env()` the process environment.
_EXPLICIT: ContextVar[bool] = ContextVar("parley_settings_explicit", default=False)


class Settings(BaseSettings):
    """Everything Parley can be told. Frozen: copies are made with `with_(...)`."""

    # An empty variable (`NAME=`) means unset, as it always has here: the default applies.
    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True, case_sensitive=True,
                                      env_file=None, env_ignore_empty=True, validate_default=False)

    # --- core --------------------------------------------------------------------------------------
    instance_dir: Path = var("PARLEY_INSTANCE", Path("instance"),
                             "where the SQLite database, the trained bot models and the secret key live")
    data_dir: Path = var("PARLEY_DATA", Path("data"), "the bot's training data (Rasa format)")
    database_url: str = var("DATABASE_URL", "", "SQLAlchemy URL, e.g. `postgresql://user:pass@host:5432/parley`; "
                            "default: SQLite (WAL) in the instance folder")
    redis_url: Optional = var("REDIS_URL", None, "Socket.IO message queue between several app processes")
    secret_key: str = var("PARLEY_SECRET_KEY", "", "signs sessions and visitor tokens; default: made once, "
                          "kept in the instance folder", secret=True)
    bot_engines: CommaList = var("PARLEY_BOT_ENGINES", ("embedded",),
                                 "the bot engines, in order: `embedded`, `rasa`, `llm`, `http` (e.g. `rasa,llm`)")
    # Below this confidence the bot asks the customer to rephrase ...
    bot_fallback_threshold: float = var("PARLEY_BOT_FALLBACK_THRESHOLD", 0.5,
                                        "below this confidence the bot asks the customer to rephrase")
    # ... and below this one it hands off at once (reason `low_confidence`).
    bot_handoff_threshold: float = var("PARLEY_BOT_HANDOFF_THRESHOLD", 0.2,
                                       "below this it hands off at once (`low_confidence`)")
    # How many "please rephrase" turns in a row before handing off (`repeated_fallback`).
    bot_fallback_attempts: int = var("PARLEY_BOT_FALLBACK_ATTEMPTS", 1,
                                     "rephrase requests in a row before handing off (`repeated_fallback`)")
    max_message_length: int = var("PARLEY_MAX_MESSAGE_LENGTH", 4096, "longest message accepted, in characters",
                                  gt=0)
    # Origins allowed to open the customer-facing /webchat socket ("*" = any site may embed the widget).
    widget_origins: CommaList = var("PARLEY_WIDGET_ORIGINS", ("*",),
                                    "sites allowed to open the customer chat socket (comma-separated origins)")
    # The Redis pub/sub channel of the Socket.IO message queue (one per deployment sharing a Redis).
    socketio_channel: str = var("PARLEY_SOCKETIO_CHANNEL", "parley-socketio",
                                "Redis channel of the message queue (one per deployment)")


    # --- production serving: bot claims, proxies, shutdown ------------------------------------------
    bot_lease_seconds: float = var("PARLEY_BOT_LEASE_SECONDS", 15.0, "a worker's claim on a conversation while "
                                   "it runs the bot; a dead worker's turns are taken over after at most this", gt=0)
    # `parley web` answers the bot's turns itself when every engine answers in process (the embedded
    # engine, its model loaded in each web process): one transaction for the message and its answer,
    # no worker round trip. Off: every turn goes to the workers (memory: no model in the web processes).
    web_answers: Flag = var("PARLEY_WEB_ANSWERS", True, "`parley web` answers the embedded engine's turns in the "
                            "customer message's own transaction (the model loaded in every web process); `0`: "
                            "every turn goes to `parley worker`")
    trusted_proxies: int = var("PARLEY_TRUSTED_PROXIES", 0, "proxies in front that set X-Forwarded-For/-Proto/"
                               "-Host/-Port (nginx alone: 1); 0 trusts none", ge=0)
    shutdown_grace_seconds: float = var("PARLEY_SHUTDOWN_GRACE_SECONDS", 20.0, "on SIGTERM, how long work under "
                                        "way may finish before its claims are given back", ge=0)

    # --- sessions and abuse controls (console/limits.py; limits as "30/minute;300/hour") ------------
    session_days: int = var("PARLEY_SESSION_DAYS", 14, "days a console login lasts", ge=1)
    session_cookie_secure: OptionalFlag = var("PARLEY_SESSION_COOKIE_SECURE", None, "`1`: the session cookie "
                                              "only over https; default: on when PARLEY_PUBLIC_URL is https")
    rate_limit_storage: Optional = var("PARLEY_RATE_LIMIT_STORAGE", None, "where rate limits count (a `limits` "
                                       "storage URI); default: REDIS_URL, else this process's memory")
    login_free_failures: int = var("PARLEY_LOGIN_FREE_FAILURES", 5, "wrong passwords per account before the "
                                   "back-off starts", ge=1)
    login_free_failures_per_address: int = var("PARLEY_LOGIN_FREE_FAILURES_PER_ADDRESS", 50, "wrong passwords "
                                               "per client address before the back-off starts", ge=1)
    login_backoff_seconds: float = var("PARLEY_LOGIN_BACKOFF_SECONDS", 1.0, "the first back-off; each further "
                                       "failure doubles it", gt=0)
    login_backoff_max_seconds: float = var("PARLEY_LOGIN_BACKOFF_MAX_SECONDS", 900.0, "the longest back-off",
                                           ge=1)
    rate_limit_api: RateLimit = var("PARLEY_RATE_LIMIT_API", "600/minute", "API requests per token")
    rate_limit_webchat_messages: RateLimit = var("PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES", "30/minute;600/hour",
                                                 "webchat messages per visitor")
    rate_limit_webchat_messages_per_address: RateLimit = var("PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES_PER_ADDRESS",
                                                             "600/minute", "webchat messages per client address")
    rate_limit_webchat_conversations: RateLimit = var("PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS", "10/hour",
                                                      "new webchat conversations per visitor")
    rate_limit_webchat_conversations_per_address: RateLimit = var(
        "PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS_PER_ADDRESS", "200/hour",
        "new webchat conversations per client address")
    rate_limit_uploads: RateLimit = var("PARLEY_RATE_LIMIT_UPLOADS", "30/minute;300/hour",
                                        "uploads per visitor or agent")
    rate_limit_uploads_per_address: RateLimit = var("PARLEY_RATE_LIMIT_UPLOADS_PER_ADDRESS", "300/hour",
                                                    "uploads per client address")

    # --- shared files (models/storage/): attachments and trained models -----------------------------
    storage_url: Optional = var("PARLEY_STORAGE_URL", None, "shared files: unset = the instance folder; "
                                "`s3://bucket/prefix`, or `file:///path` for a folder every host mounts")
    s3_endpoint_url: OptionalUrl = var("PARLEY_S3_ENDPOINT_URL", None, "an S3-compatible server's URL "
                                       "(not AWS); credentials from the standard AWS_* variables")
    s3_region: Optional = var("PARLEY_S3_REGION", None, "the bucket's region")

    # --- operations --------------------------------------------------------------------------------
    log_format: Literal["text", "json"] = var("PARLEY_LOG_FORMAT", "text",
                                              "`json`: one JSON object per log line; `text`: for people")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = var("PARLEY_LOG_LEVEL", "INFO",
                                                                  "least severe log level written")
    metrics_token: Optional = var("PARLEY_METRICS_TOKEN", None, "bearer token `GET /metrics` requires; unset: "
                                  "it answers loopback and private addresses only", secret=True)

    # --- email (connectors/mail.py) -----------------------------------------------------------------
    smtp_url: Optional = var("PARLEY_SMTP_URL", None, "the SMTP server for invitations and password resets: "
                             "`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://user:pass@host:465`",
                             secret=True)
    mail_from: str = var("PARLEY_MAIL_FROM", "Parley <parley@localhost>", "the sender of the mail Parley sends")
    invite_ttl_days: int = var("PARLEY_INVITE_TTL_DAYS", 7, "days a customer's personal chat link (an "
                               "invitation by SMS or email) works after it was sent", ge=1, le=365)

    # --- SMS and WhatsApp (viewed as `models.channels.settings.ChannelSettings`) -------------------
    public_url: OptionalUrl = var("PARLEY_PUBLIC_URL", None, "the URL providers call, e.g. "
                                  "`https://parley.example.com` (signatures are checked against it)")
    outbound_allow: str = var("PARLEY_OUTBOUND_ALLOW", "", "hosts or CIDRs (comma-separated) that requests made "
                              "on the server's behalf may reach although private or loopback")
    allow_insecure_defaults: Flag = var("PARLEY_ALLOW_INSECURE_DEFAULTS", False, "`1`: allow `*` widget origins "
                                        "and no PARLEY_PUBLIC_URL with PostgreSQL (development only)")
    twilio_account_sid: Optional = var("PARLEY_TWILIO_ACCOUNT_SID", None, "a Twilio account (seeded at start)")
    twilio_auth_token: Optional = var("PARLEY_TWILIO_AUTH_TOKEN", None, "its auth token", secret=True)
    twilio_number: Optional = var("PARLEY_TWILIO_NUMBER", None, "its number (SMS, and WhatsApp through Twilio)")
    whatsapp_token: Optional = var("PARLEY_WHATSAPP_TOKEN", None, "a Cloud API access token", secret=True)
    whatsapp_app_secret: Optional = var("PARLEY_WHATSAPP_APP_SECRET", None, "the Meta app secret (signatures)",
                                        secret=True)
    whatsapp_verify_token: Optional = var("PARLEY_WHATSAPP_VERIFY_TOKEN", None, "the webhook verify token",
                                          secret=True)
    whatsapp_phone_number_id: Optional = var("PARLEY_WHATSAPP_PHONE_NUMBER_ID", None, "the Cloud API number")
    twilio_api_base: OptionalUrl = var("PARLEY_TWILIO_API_BASE", "https://api.twilio.com",
                                       "Twilio's API base URL (tests point it at a local fake)")
    whatsapp_api_base: OptionalUrl = var("PARLEY_WHATSAPP_API_BASE", "https://graph.facebook.com",
                                         "the Graph API base URL (tests point it at a local fake)")
    whatsapp_api_version: str = var("PARLEY_WHATSAPP_API_VERSION", "v21.0", "the Graph API version")
    provider_timeout: float = var("PARLEY_PROVIDER_TIMEOUT", 10.0, "seconds per call to a provider", gt=0)
    max_attachment_bytes: int = var("PARLEY_MAX_ATTACHMENT_BYTES", 16 * 1024 * 1024,
                                    "largest file accepted or fetched", ge=0)
    outbox_max_attempts: int = var("PARLEY_OUTBOX_MAX_ATTEMPTS", 6, "tries of a send that did not reach the "
                                   "provider", ge=1)
    outbox_backoff: float = var("PARLEY_OUTBOX_BACKOFF", 2.0, "seconds before the first retry (then doubling)",
                                ge=0)
    outbox_backoff_max: float = var("PARLEY_OUTBOX_BACKOFF_MAX", 300.0, "longest wait between retries, seconds",
                                    ge=0)
    outbox_poll: float = var("PARLEY_OUTBOX_POLL", 1.0, "seconds between the delivery worker's polls", gt=0)
    outbox_lease: float = var("PARLEY_OUTBOX_LEASE", 60.0, "seconds a worker holds a send before another may "
                              "take it", gt=0)
    outbox_unconfirmed_grace: float = var("PARLEY_OUTBOX_UNCONFIRMED_GRACE", 600.0, "seconds an unconfirmed "
                                          "Cloud API send waits for a status before the agent decides", ge=0)
    outbox_settle: float = var("PARLEY_OUTBOX_SETTLE", 5.0, "seconds an unconfirmed send rests before it is "
                               "reconciled", ge=0)
    broadcast_rate: float = var("PARLEY_BROADCAST_RATE", 10.0, "messages per second a broadcast hands to the "
                                "outbox (0: all at once)", ge=0)
    bench_noop: Flag = var("PARLEY_BENCH_NOOP", False, "`1`: `POST /webhooks/noop` (the benchmark's baseline)")

    # --- integrations: outgoing webhooks (connectors/webhooks_out.py), the `http` bot engine -------------
    webhook_timeout: float = var("PARLEY_WEBHOOK_TIMEOUT", 10.0, "seconds per webhook delivery attempt", gt=0)
    webhook_poll: float = var("PARLEY_WEBHOOK_POLL", 2.0, "seconds between the webhook worker's polls", gt=0)
    webhook_max_attempts: int = var("PARLEY_WEBHOOK_MAX_ATTEMPTS", 30, "attempts of one webhook delivery", ge=1)
    webhook_backoff: float = var("PARLEY_WEBHOOK_BACKOFF", 10.0, "seconds before a delivery's first retry "
                                 "(then doubling)", ge=0)
    webhook_backoff_max: float = var("PARLEY_WEBHOOK_BACKOFF_MAX", 3600.0, "longest wait between retries", ge=0)
    webhook_pause_after: float = var("PARLEY_WEBHOOK_PAUSE_AFTER", 86400.0, "seconds of failing deliveries "
                                     "after which a subscription is paused (admins are told)", gt=0)
    http_bot_url: OptionalUrl = var("PARLEY_HTTP_BOT_URL", None, "the `http` bot engine's endpoint (each turn "
                                    "is POSTed there)")
    http_bot_secret: Optional = var("PARLEY_HTTP_BOT_SECRET", None, "signs the `http` engine's requests like "
                                    "webhooks (X-Parley-Signature)", secret=True)
    http_bot_timeout: float = var("PARLEY_HTTP_BOT_TIMEOUT", 10.0, "seconds the `http` engine waits; slower is "
                                  "a `bot_error` handoff", gt=0)

    # --- payments: invoices and checkouts (connectors/stripe.py, docs/invoices.md) ---------------------
    stripe_secret_key: Optional = var("PARLEY_STRIPE_SECRET_KEY", None, "Stripe's secret key (sk_…); unset: "
                                      "invoices cannot be sent", secret=True)
    stripe_webhook_secret: Optional = var("PARLEY_STRIPE_WEBHOOK_SECRET", None, "signs Stripe's webhook "
                                          "(`Stripe-Signature`, whsec_…)", secret=True)
    stripe_api_base: OptionalUrl = var("PARLEY_STRIPE_API_BASE", "https://api.stripe.com",
                                       "Stripe's API base URL (tests point it at a local fake)")

    # --- the LLM agent (viewed as `bot.llm.config.LlmConfig`) --------------------------------------
    llm_model: ModelName = var("PARLEY_LLM_MODEL", None, "the LLM agent's model in langchain's `provider:model` "
                               "form, e.g. `openai:gpt-4o-mini`; unset: the LLM stage is off")
    llm_base_url: Optional = var("PARLEY_LLM_BASE_URL", None, "any OpenAI-compatible server (hosted, vLLM, "
                                 "Ollama, llama.cpp: `http://127.0.0.1:11434/v1`)")
    llm_api_key: Optional = var("PARLEY_LLM_API_KEY", None, "its API key", secret=True)
    llm_timeout: float = var("PARLEY_LLM_TIMEOUT", 20.0, "seconds per model request", gt=0)
    llm_turn_timeout: float = var("PARLEY_LLM_TURN_TIMEOUT", 45.0, "seconds per agent turn", gt=0)
    llm_summary_timeout: float = var("PARLEY_LLM_SUMMARY_TIMEOUT", 8.0, "seconds for the handoff summary", gt=0)
    llm_max_retries: int = var("PARLEY_LLM_MAX_RETRIES", 1, "provider retries", ge=0)
    llm_temperature: float = var("PARLEY_LLM_TEMPERATURE", 0.0, "sampling temperature", ge=0)
    llm_max_steps: int = var("PARLEY_LLM_MAX_STEPS", 8, "model calls and tool rounds per turn", ge=1)
    llm_min_confidence: float = var("PARLEY_LLM_MIN_CONFIDENCE", 0.5, "least self-reported confidence an "
                                    "answer needs")
    llm_budget_conversation_tokens: int | None = var("PARLEY_LLM_BUDGET_CONVERSATION_TOKENS", None, "LLM tokens "
                                                     "per conversation; over it the bot hands off (`policy`); "
                                                     "unset: no limit", ge=1)
    llm_budget_daily_tokens: int | None = var("PARLEY_LLM_BUDGET_DAILY_TOKENS", None, "LLM tokens per UTC day, "
                                              "all conversations; over it the bot hands off (`policy`); unset: "
                                              "no limit", ge=1)
    embedding_model: ModelName = var("PARLEY_EMBEDDING_MODEL", None, "e.g. `openai:text-embedding-3-small`: "
                                     "fused with BM25 in knowledge-base search; unset: BM25 only")

    # --- Rasa (viewed as `bot.rasa.config.RasaSettings`) -------------------------------------------
    rasa_url: OptionalUrl = var("PARLEY_RASA_URL", None, "an external Rasa server (`rasa run --enable-api`); "
                                "unset: Parley runs its own")
    rasa_token: Optional = var("PARLEY_RASA_TOKEN", None, "its `--auth-token`", secret=True)
    rasa_timeout: float = var("PARLEY_RASA_TIMEOUT", 10.0, "seconds per call to Rasa while answering; slower "
                              "counts as down (`bot_error` handoff)", gt=0)
    rasa_start_timeout: float = var("PARLEY_RASA_START_TIMEOUT", 300.0, "seconds a starting Rasa server may "
                                    "take to load its model", gt=0)
    rasa_venv: OptionalPath = var("PARLEY_RASA_VENV", None, "Rasa's environment; default `./.rasa-venv` "
                                  "(`make rasa`)")
    rasa_config: OptionalPath = var("PARLEY_RASA_CONFIG", None, "the Rasa config to train with; default: the "
                                    "data's `config.yml`")
    rasa_action_endpoint: OptionalUrl = var("PARLEY_RASA_ACTION_ENDPOINT", None, "a custom action server "
                                            "(`.../webhook`), written into the supervised Rasa's endpoints.yml")

    # Values (env-style names) laid over the above by the per-area views: tests and benchmarks use it.
    extra: dict[str, Any] = Field(default_factory=dict, validation_alias="_PARLEY_EXTRA", exclude=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,) if _EXPLICIT.get() else (init_settings, env_settings)

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        """Paths absolute; the default database and secret live in the instance folder."""
        instance = self.instance_dir.resolve()
        url = self.database_url or f"sqlite:///{instance / 'parley.db'}"
        if url.startswith("postgres://"):  # Heroku-style alias
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        derived = {"instance_dir": instance, "data_dir": self.data_dir.resolve(), "database_url": url,
                   "bot_engines": self.bot_engines or ("embedded",), "widget_origins": self.widget_origins or ("*",),
                   "secret_key": self.secret_key or _instance_secret(instance)}
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen to callers, not to its own validation
        return self

    @property
    def models_dir(self) -> Path:
        return self.instance_dir / "models"

    def with_(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)

    # Defaults that follow other settings are computed when read, so copies made by `with_` never go stale.
    @property
    def cookie_secure(self) -> bool:
        """PARLEY_SESSION_COOKIE_SECURE, else on exactly when the public URL is https."""
        explicit = self.session_cookie_secure
        return explicit if explicit is not None else (self.public_url or "").startswith("https://")

    @property
    def limits_storage_uri(self) -> str:
        return self.rate_limit_storage or self.redis_url or "memory://"  # else this process's memory

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, load_dotenv: bool = True) -> Settings:
        """From `env` only when given; else from the process environment, after loading `.env` from the
        working directory into it (real variables win), so child processes and admin-named secrets see
        the same values. Unknown `PARLEY_*` names are reported once per process."""
        if env is None:
            if load_dotenv:
                load_dotenv_file()
            report_unknown(os.environ)
            return _validated(cls, {}, explicit=False)  # pydantic-settings reads the environment
        return _validated(cls, {k: v for k, v in env.items() if k in FIELD_OF and v != ""}, explicit=True)

    def overlay(self, values: Mapping[str, Any]) -> Settings:
        """A copy with env-style `values` (validated as if read from the environment) laid over this one."""
        changes = {FIELD_OF[k]: Settings.model_fields[FIELD_OF[k]].default if v in (None, "") else parse_var(k, v)
                   for k, v in values.items() if k in FIELD_OF}
        return self.model_copy(update=changes) if changes else self

    def resolved(self, env: Mapping[str, Any] | None = None) -> Settings:
        """What the per-area views read: `env` (tests pass one) and then `extra` laid over this object."""
        return self.overlay({**(env or {}), **self.extra})


def load_dotenv_file() -> None:
    """`.env` in the working directory into the process environment (real variables win)."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


def _validated(cls: type[Settings], values: dict[str, Any], *, explicit: bool) -> Settings:
    token = _EXPLICIT.set(explicit)
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ValueError(_explain(exc)) from None
    finally:
        _EXPLICIT.reset(token)


def _explain(exc: ValidationError) -> str:
    """One line per bad variable, naming it; a secret's value is never repeated."""
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "settings"
        shown = "" if name in SECRET_NAMES else f", got {err.get('input')!r}"
        lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(lines)


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _fields() -> dict[str, FieldInfo]:
    return {name: f for name, f in Settings.model_fields.items() if isinstance(f.validation_alias, str)
            and name != "extra"}


# Every variable's name -> its field; the secrets among them.
FIELD_OF: dict[str, str] = {str(f.validation_alias): name for name, f in _fields().items()}
SECRET_NAMES = frozenset(env for env, name in FIELD_OF.items()
                         if _extra(Settings.model_fields[name]).get("secret"))


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = Settings.model_fields[name]
    annotated: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(annotated)


def parse_var(env_name: str, raw: Any) -> Any:
    """One variable's value, validated as `Settings` would; a ValueError names the variable."""
    try:
        return _adapter(FIELD_OF[env_name]).validate_python(raw)
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        shown = "" if env_name in SECRET_NAMES else f", got {raw!r}"
        raise ValueError(f"{env_name}: {msg}{shown}") from None


def read_vars(env: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Some variables out of an env-style mapping, by field name, defaults for the unset ones."""
    values = {}
    for name in names:
        field = Settings.model_fields[name]
        env_name = str(field.validation_alias)
        values[name] = parse_var(env_name, env[env_name]) if env.get(env_name) not in (None, "") else field.default
    return values


# --- the unknown-variable report ---------------------------------------------------------------

_reported: set[str] = set()


def unknown_vars(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """(name, closest known name) for every `PARLEY_*` variable nothing reads: most often a typo."""
    known = [n for n in FIELD_OF if n.startswith("PARLEY_")]
    out = []
    for name in sorted(env):
        if name.startswith("PARLEY_") and name not in FIELD_OF and name not in TOOLING_VARS:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            out.append((name, close[0] if close else None))
    return out


def report_unknown(env: Mapping[str, str]) -> None:
    for name, close in unknown_vars(env):
        if name not in _reported:
            _reported.add(name)
            hint = f" (did you mean {close}?)" if close else ""
            log.warning("unknown setting %s is ignored%s", name, hint)




def _instance_secret(instance: Path) -> str:
    """A per-installation secret, made once and kept in the instance folder (mode 600)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = instance / f".secret_key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # atomic, and fails if another process made one first
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink()
    return key
