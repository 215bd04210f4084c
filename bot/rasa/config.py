"""The `PARLEY_RASA_*` settings, kept apart from `Settings` so the engine can grow knobs alone.

Values in `Settings.extra` (env-style names) override the environment, as for the channels: tests and
benchmarks point Parley at their own Rasa that way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.settings import Settings, env_float

# The repository root, where `make rasa` builds `.rasa-venv`.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _seconds(env: dict[str, Any], name: str, default: float) -> float:
    return env_float(env, name, default, minimum=0, above=True, unit="a number of seconds")


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
        merged: dict[str, Any] = dict(os.environ if env is None else env)
        merged.update({k: v for k, v in settings.extra.items() if isinstance(k, str) and k.startswith("PARLEY_")})
        url = str(merged.get("PARLEY_RASA_URL") or "").strip().rstrip("/") or None
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("PARLEY_RASA_URL must start with http:// or https://")
        venv = str(merged.get("PARLEY_RASA_VENV") or "").strip()
        config = str(merged.get("PARLEY_RASA_CONFIG") or "").strip()
        return cls(
            url=url,
            token=str(merged.get("PARLEY_RASA_TOKEN") or "") or None,
            timeout_s=_seconds(merged, "PARLEY_RASA_TIMEOUT", cls.timeout_s),
            start_timeout_s=_seconds(merged, "PARLEY_RASA_START_TIMEOUT", cls.start_timeout_s),
            venv=Path(venv).resolve() if venv else cls.venv,
            config=Path(config).resolve() if config else None,
        )


class RasaNotInstalled(ValueError):
    """Rasa's environment is missing: `make rasa` builds it (a configuration error, said at start)."""
