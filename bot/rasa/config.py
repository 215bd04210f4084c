"""The `PARLEY_RASA_*` settings: Rasa's view of `models.settings.Settings`, where they are declared.

Values in `Settings.extra` (env-style names) are laid over it, as for the channels: tests and
benchmarks point Parley at their own Rasa that way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.settings import Settings

# The repository root, where `make rasa` builds `.rasa-venv`.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RasaSettings:
    # An external Rasa server (`rasa run --enable-api`); unset: Parley starts and supervises its own.
    url: str | None = None
    # Its `--auth-token` (sent as `?token=`); a supervised server gets a fresh random one each start.
    token: str | None = None
    # Per HTTP call to Rasa while answering a customer; slower counts as down (`bot_error` handoff).
    timeout_s: float = 10.0
    # How long a starting server may take to load its model before it counts as failed.
    start_timeout_s: float = 300.0
    # Rasa's own environment (Python 3.10, rasa==3.6.21), built by `make rasa`.
    venv: Path = PROJECT_ROOT / ".rasa-venv"
    # The pipeline/policies to train with; default: `config.yml` of the data directory.
    config: Path | None = None
    # A custom action server (rasa-sdk's `.../webhook`): the supervised server's `action_endpoint`.
    action_endpoint: str | None = None

    @property
    def rasa_bin(self) -> Path:
        return self.venv / "bin" / "rasa"

    @property
    def installed(self) -> bool:
        return self.rasa_bin.is_file() and os.access(self.rasa_bin, os.X_OK)

    def require_installed(self) -> None:
        if not self.installed:
            raise RasaNotInstalled(
                f"Rasa is not installed at {self.venv} (run `make rasa`, or set PARLEY_RASA_VENV "
                "to a virtualenv with rasa==3.6.21)"
            )

    @classmethod
    def from_settings(cls, settings: Settings, env: dict[str, str] | None = None) -> RasaSettings:
        """Rasa's view of the one settings object (with `env`, then `settings.extra`, laid over it)."""
        s = settings.resolved(env)
        return cls(url=s.rasa_url, token=s.rasa_token, timeout_s=s.rasa_timeout, start_timeout_s=s.rasa_start_timeout,
                   venv=s.rasa_venv.resolve() if s.rasa_venv else cls.venv,
                   config=s.rasa_config.resolve() if s.rasa_config else None,
                   action_endpoint=s.rasa_action_endpoint)


class RasaNotInstalled(ValueError):
    """Rasa's environment is missing: `make rasa` builds it (a configuration error, said at start)."""
