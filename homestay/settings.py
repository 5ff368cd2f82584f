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
    # moving windows (see homestay/http/guard.py): per client address, per address and
    # failed credential, per account, photos per account
    rate_public: str = "600/minute"
    rate_auth_failures: str = "20/minute"
    rate_account: str = "1200/minute"
    rate_uploads: str = "300/hour"
    rate_concerns: str = "10/hour"
    rate_public_uploads: str = "10/hour"
    rate_persisted_queries: str = "100/hour"
    rate_concerns_per_certificate: str = "30/day"
    # proxies whose X-Forwarded-For names the client (uvicorn's FORWARDED_ALLOW_IPS); none
    # by default, so that no client can choose its own address
    trusted_proxies: str | None = None
    # browser consoles on other origins that may call the API (CORS); none by default
    cors_origins: tuple[str, ...] = ()
    # where the public reaches this service: the plaques' QR codes point here
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_000_000
    introspection: bool = True
    # every database operation of one API request must finish within this budget, and a
    # database that does not answer is given up on after db_select_timeout_ms (unless the
    # URI names serverSelectionTimeoutMS or connectTimeoutMS itself: storage.make_client)
    request_db_timeout_ms: int = 3000
    db_select_timeout_ms: int = 2000
    # photos (homestay/images.py, http/uploads.DecodeGate): at most photo_decodes decoded at
    # once, each within photo_decode_mb of memory; at most photo_queue more wait, each at most
    # photo_wait_s, the rest are told to come back (503, Retry-After)
    photo_decodes: int = 2
    photo_decode_mb: int = 128
    photo_queue: int = 16
    photo_wait_s: int = 20
    # what a query may cost (graphql/executor/cost.py: fields an answer could hold), without a token
    # and with one; how many costly anonymous queries run at once; and how many requests one
    # address may have in flight without a token
    cost_public: int = 15_000
    cost_account: int = 50_000
    costly_lane: int = 1
    public_in_flight: int = 4
    # the executor's short road for plain fields (graphql/executor/execution.py); off:
    # graphql-core's road for every field
    short_road: bool = True
    # API processes `homestay serve` runs on its port (docs/operations.md: several processes)
    workers: int = 1
    # live subscriptions (homestay/live): at once per account and per address in each process,
    # per socket; the socket's ping interval (a silent peer is dropped after as long again)
    live_per_account: int = 10
    live_per_address: int = 20
    live_per_socket: int = 5
    live_ping_s: int = 20

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
            certificate_validity_days=_int(env, "HOMESTAY_CERT_VALIDITY_DAYS", 3 * 365, minimum=1),
            far_from_homestay_meters=_int(env, "HOMESTAY_FAR_METERS", 500, minimum=1),
            geocoder=env.get("HOMESTAY_GEOCODER", "gazetteer"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            readiness_timeout_ms=_int(env, "HOMESTAY_READY_TIMEOUT_MS", 1500, minimum=100),
            plan=_plan(env),
            rate_public=_rate(env, "HOMESTAY_RATE_PUBLIC", "600/minute"),
            rate_auth_failures=_rate(env, "HOMESTAY_RATE_AUTH_FAILURES", "20/minute"),
            rate_account=_rate(env, "HOMESTAY_RATE_ACCOUNT", "1200/minute"),
            rate_uploads=_rate(env, "HOMESTAY_RATE_UPLOADS", "300/hour"),
            rate_concerns=_rate(env, "HOMESTAY_RATE_CONCERNS", "10/hour"),
            rate_public_uploads=_rate(env, "HOMESTAY_RATE_PUBLIC_UPLOADS", "10/hour"),
            rate_persisted_queries=_rate(env, "HOMESTAY_RATE_PERSISTED_QUERIES", "100/hour"),
            rate_concerns_per_certificate=_rate(
                env, "HOMESTAY_RATE_CONCERNS_PER_CERTIFICATE", "30/day"
            ),
            trusted_proxies=(env.get("FORWARDED_ALLOW_IPS") or "").strip() or None,
            cors_origins=tuple(
                _url({}, "HOMESTAY_CORS_ORIGINS", origin)
                for origin in (env.get("HOMESTAY_CORS_ORIGINS") or "").split(",")
                if origin.strip()
            ),
            public_url=_url(
                env,
                "HOMESTAY_PUBLIC_URL",
                f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}",
            ),
            max_body_bytes=_int(env, "HOMESTAY_MAX_BODY_BYTES", 1_000_000, minimum=10_000),
            introspection=_bool(env, "HOMESTAY_INTROSPECTION", True),
            request_db_timeout_ms=_int(env, "HOMESTAY_REQUEST_DB_TIMEOUT_MS", 3000, minimum=100),
            db_select_timeout_ms=_int(env, "HOMESTAY_DB_SELECT_TIMEOUT_MS", 2000, minimum=100),
            photo_decodes=_int(env, "HOMESTAY_PHOTO_DECODES", 2, minimum=1),
            photo_decode_mb=_int(env, "HOMESTAY_PHOTO_DECODE_MB", 128, minimum=16),
            photo_queue=_int(env, "HOMESTAY_PHOTO_QUEUE", 16, minimum=0),
            photo_wait_s=_int(env, "HOMESTAY_PHOTO_WAIT_S", 20, minimum=1),
            cost_public=_int(env, "HOMESTAY_COST_PUBLIC", 15_000, minimum=100),
            cost_account=_int(env, "HOMESTAY_COST_ACCOUNT", 50_000, minimum=100),
            costly_lane=_int(env, "HOMESTAY_COSTLY_LANE", 1, minimum=1),
            public_in_flight=_int(env, "HOMESTAY_PUBLIC_IN_FLIGHT", 4, minimum=1),
            short_road=_bool(env, "HOMESTAY_SHORT_ROAD", True),
            workers=_int(env, "HOMESTAY_WORKERS", 1, minimum=1),
            live_per_account=_int(env, "HOMESTAY_LIVE_PER_ACCOUNT", 10, minimum=1),
            live_per_address=_int(env, "HOMESTAY_LIVE_PER_ADDRESS", 20, minimum=1),
            live_per_socket=_int(env, "HOMESTAY_LIVE_PER_SOCKET", 5, minimum=1),
            live_ping_s=_int(env, "HOMESTAY_LIVE_PING_S", 20, minimum=1),
        )


def _rate(env: dict[str, str], name: str, default: str) -> str:
    from limits import parse

    raw = env.get(name) or default
    try:
        parse(raw)
    except ValueError:
        raise SettingsError(f"{name} must look like '600/minute', not {raw!r}") from None
    return raw


def _url(env: dict[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or default).strip().rstrip("/")
    if not raw.startswith(("http://", "https://")) or " " in raw:
        raise SettingsError(
            f"{name} must be an http(s) URL such as https://homestay.example.cn, not {raw!r}"
        )
    return raw


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, not {raw!r}")


def _plan(env: dict[str, str]) -> PlanSettings:
    """HOMESTAY_PLAN_EXPIRED_WEIGHT, HOMESTAY_PLAN_EXPIRING_DAYS, ...: one per field."""
    defaults = PlanSettings()
    return PlanSettings(
        **{
            f.name: _int(env, f"HOMESTAY_PLAN_{f.name.upper()}", getattr(defaults, f.name))
            for f in fields(PlanSettings)
        }
    )
