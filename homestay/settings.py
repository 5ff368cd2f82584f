"""Settings, read once from the environment. Every one has a default that works on a laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from homestay.domain.plan import PlanSettings

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # None: start the embedded SecantusDB as a child process
    mongodb_uri: str | None = None
    database: str = "homestay"
    data_dir: Path = ROOT / "var"
    environment: str = "development"
    certificate_validity_days: int = 3 * 365
    far_from_homestay_meters: int = 500
    geocoder: str = "gazetteer"
    log_level: str = "INFO"
    seed_dir: Path = ROOT / "seed"
    readiness_timeout_ms: int = 1500
    plan: PlanSettings = field(default_factory=PlanSettings)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        environment = env.get("HOMESTAY_ENV", "development")
        if environment not in {"development", "production", "test"}:
            raise SettingsError(
                f"HOMESTAY_ENV must be development, production or test, not {environment!r}"
            )
        return cls(
            host=env.get("HOST", "127.0.0.1"),
            port=_int(env, "PORT", 8000, minimum=0),
            mongodb_uri=env.get("MONGODB_URI") or None,
            database=env.get("HOMESTAY_DB", "homestay"),
            data_dir=Path(env.get("HOMESTAY_DATA_DIR", str(ROOT / "var"))),
            environment=environment,
            certificate_validity_days=_int(
                env, "HOMESTAY_CERT_VALIDITY_DAYS", 3 * 365, minimum=1
            ),
            far_from_homestay_meters=_int(env, "HOMESTAY_FAR_METERS", 500, minimum=1),
            geocoder=env.get("HOMESTAY_GEOCODER", "gazetteer"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            readiness_timeout_ms=_int(env, "HOMESTAY_READY_TIMEOUT_MS", 1500, minimum=100),
            plan=_plan(env),
        )


def _plan(env: dict[str, str]) -> PlanSettings:
    """HOMESTAY_PLAN_EXPIRED_WEIGHT, HOMESTAY_PLAN_EXPIRING_DAYS, ...: one per field."""
    defaults = PlanSettings()
    return PlanSettings(**{
        f.name: _int(env, f"HOMESTAY_PLAN_{f.name.upper()}", getattr(defaults, f.name))
        for f in fields(PlanSettings)})
