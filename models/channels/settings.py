"""The SMS/WhatsApp channels' view of `models.settings.Settings` (where every variable is declared).

Values in `Settings.extra` (env-style names) are laid over it: tests and benchmarks use that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import FIELD_OF, Settings


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
        """The channels' view of `settings` (with `env`, then `settings.extra`, laid over it)."""
        s = settings.resolved(env)
        seeds = tuple((k, str(v)) for k in SEED_VARS if (v := getattr(s, FIELD_OF[k])))
        return cls(
            public_url=s.public_url,
            outbound_allow=s.outbound_allow,
            twilio_api_base=s.twilio_api_base or cls.twilio_api_base,
            whatsapp_api_base=s.whatsapp_api_base or cls.whatsapp_api_base,
            whatsapp_api_version=s.whatsapp_api_version,
            provider_timeout_s=s.provider_timeout,
            max_attachment_bytes=s.max_attachment_bytes,
            outbox_max_attempts=s.outbox_max_attempts,
            outbox_backoff_s=s.outbox_backoff,
            outbox_backoff_max_s=s.outbox_backoff_max,
            outbox_poll_s=s.outbox_poll,
            outbox_lease_s=s.outbox_lease,
            unconfirmed_grace_s=s.outbox_unconfirmed_grace,
            unconfirmed_settle_s=s.outbox_settle,
            bench_noop=s.bench_noop,
            seed=seeds,
        )


SEED_VARS = (
    "PARLEY_TWILIO_ACCOUNT_SID", "PARLEY_TWILIO_AUTH_TOKEN", "PARLEY_TWILIO_NUMBER",
    "PARLEY_WHATSAPP_TOKEN", "PARLEY_WHATSAPP_APP_SECRET", "PARLEY_WHATSAPP_VERIFY_TOKEN",
    "PARLEY_WHATSAPP_PHONE_NUMBER_ID",
)
