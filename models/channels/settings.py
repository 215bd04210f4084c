"""Settings of the SMS/WhatsApp channels, read from the environment like `models.settings`.

Kept apart from `Settings` so the channels can grow knobs without touching the core's. Values in
`Settings.extra` (env-style names) override the environment: tests and benchmarks use that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from models.settings import Settings, env_float


def _num(env: dict[str, str], name: str, default: float) -> float:
    return env_float(env, name, default, minimum=0)


@dataclass(frozen=True)
class ChannelSettings:
    # The URL providers call us on (scheme://host[:port], no trailing slash). Twilio signs the URL
    # it called, so behind a TLS-terminating proxy signatures are checked against this one.
    public_url: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    whatsapp_api_base: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    # PARLEY_OUTBOUND_ALLOW: hosts/CIDRs outside the public internet that server-side fetches may reach.
    outbound_allow: str = ""
    provider_timeout_s: float = 10.0
    max_attachment_bytes: int = 16 * 1024 * 1024
    outbox_max_attempts: int = 6
    outbox_backoff_s: float = 2.0
    outbox_backoff_max_s: float = 300.0
    outbox_poll_s: float = 1.0
    outbox_lease_s: float = 60.0
    # How long an unconfirmed Cloud API send waits for a status callback naming it before the agent
    # is asked to decide (it is never resent blindly).
    unconfirmed_grace_s: float = 600.0
    # How long an unconfirmed send rests before it is reconciled (the provider records what it took).
    unconfirmed_settle_s: float = 5.0
    # `POST /webhooks/noop` answers an empty TwiML and does nothing else: the benchmark's baseline.
    bench_noop: bool = False
    # Seeds (channel configurations made or updated at start from the environment).
    seed: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # holds secrets: never printed

    def seed_value(self, name: str) -> str:
        return dict(self.seed).get(name, "")

    @classmethod
    def from_settings(cls, settings: Settings, env: dict[str, str] | None = None) -> ChannelSettings:
        merged: dict[str, str] = dict(os.environ if env is None else env)
        merged.update({k: str(v) for k, v in settings.extra.items() if isinstance(k, str) and k.startswith("PARLEY_")})
        return cls.from_env(merged)

    @classmethod
    def from_env(cls, env: dict[str, Any]) -> ChannelSettings:
        public = (env.get("PARLEY_PUBLIC_URL") or "").strip().rstrip("/") or None
        if public and not public.startswith(("http://", "https://")):
            raise ValueError("PARLEY_PUBLIC_URL must start with http:// or https://")
        seeds = tuple((k, str(env[k])) for k in SEED_VARS if env.get(k))
        return cls(
            public_url=public,
            twilio_api_base=(env.get("PARLEY_TWILIO_API_BASE") or cls.twilio_api_base).rstrip("/"),
            whatsapp_api_base=(env.get("PARLEY_WHATSAPP_API_BASE") or cls.whatsapp_api_base).rstrip("/"),
            whatsapp_api_version=env.get("PARLEY_WHATSAPP_API_VERSION") or cls.whatsapp_api_version,
            outbound_allow=env.get("PARLEY_OUTBOUND_ALLOW") or "",
            provider_timeout_s=_num(env, "PARLEY_PROVIDER_TIMEOUT", cls.provider_timeout_s) or 10.0,
            max_attachment_bytes=int(_num(env, "PARLEY_MAX_ATTACHMENT_BYTES", cls.max_attachment_bytes)),
            outbox_max_attempts=max(1, int(_num(env, "PARLEY_OUTBOX_MAX_ATTEMPTS", cls.outbox_max_attempts))),
            outbox_backoff_s=_num(env, "PARLEY_OUTBOX_BACKOFF", cls.outbox_backoff_s),
            outbox_backoff_max_s=_num(env, "PARLEY_OUTBOX_BACKOFF_MAX", cls.outbox_backoff_max_s),
            outbox_poll_s=_num(env, "PARLEY_OUTBOX_POLL", cls.outbox_poll_s) or 1.0,
            outbox_lease_s=_num(env, "PARLEY_OUTBOX_LEASE", cls.outbox_lease_s) or 60.0,
            unconfirmed_grace_s=_num(env, "PARLEY_OUTBOX_UNCONFIRMED_GRACE", cls.unconfirmed_grace_s),
            unconfirmed_settle_s=_num(env, "PARLEY_OUTBOX_SETTLE", cls.unconfirmed_settle_s),
            bench_noop=(env.get("PARLEY_BENCH_NOOP") or "") in ("1", "true", "yes"),
            seed=seeds,
        )


SEED_VARS = (
    "PARLEY_TWILIO_ACCOUNT_SID", "PARLEY_TWILIO_AUTH_TOKEN", "PARLEY_TWILIO_NUMBER",
    "PARLEY_WHATSAPP_TOKEN", "PARLEY_WHATSAPP_APP_SECRET", "PARLEY_WHATSAPP_VERIFY_TOKEN",
    "PARLEY_WHATSAPP_PHONE_NUMBER_ID",
)
