"""`config.yaml`: one file that describes the whole pipeline.

Loading is three steps: read YAML, replace `${VAR}` / `${VAR:-default}` from the
environment, validate into typed settings. Every problem becomes one line that names
the key path (`connectors.mail.imap.port: ...`), so an operator can fix the file
without reading code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy.engine import make_url

from aggregator.escalation.settings import EscalationSettings
from aggregator.monitoring.settings import MonitoringSettings
from aggregator.runtime.settings import RetrySettings
from aggregator.sections import (  # noqa: F401 - re-exported for connectors' settings
    AccessSettings,
    BaseUrl,
    ConfigError,
    ConfigPath,
    Duration,
    HttpUrl,
    OptionalHttpUrl,
    Secret,
    Section,
    is_placeholder,
)
from aggregator.sla.settings import SlaSettings
from aggregator.virality.settings import ViralitySettings
from aggregator.webui.settings import WebUISettings

DEFAULT_PATH = "config.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///data/aggregator.db"
    echo: bool = False
    # Apply pending migrations when `run` starts (always on an empty database).
    migrate_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        try:
            url = make_url(value)
        except Exception:  # noqa: BLE001 - sqlalchemy raises several types
            # Not the parser's message: it repeats the URL, password included.
            raise ValueError("not a database URL (e.g. sqlite+aiosqlite:///data/aggregator.db"
                             " or postgresql+asyncpg://user@host/db)") from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite+aiosqlite:// and postgresql+asyncpg:// are supported")
        if backend == "sqlite":
            if url.get_driver_name() != "aiosqlite":
                raise ValueError("SQLite needs the async driver: sqlite+aiosqlite:///PATH")
            db = url.database or ""
            base = (info.context or {}).get("base_dir")
            if db and db != ":memory:" and not Path(db).is_absolute() and base is not None:
                url = url.set(database=str((Path(base) / db).resolve()))
            return url.render_as_string(hide_password=False)
        if url.get_driver_name() != "asyncpg":
            raise ValueError("PostgreSQL needs the async driver: postgresql+asyncpg://...")
        return value


class WebSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Where the public reaches us (status links in acknowledgements).
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    # API tokens expire this many days after they are created.
    token_ttl_days: int = Field(90, ge=1, le=3650)
    # Reverse proxies (CIDRs) whose X-Forwarded-For is believed for client addresses.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`10.0.0.0/8, 172.16.0.0/12` from an environment variable is a list too."""
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) \
            else value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for v in value:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError(f"{v!r} is not an address or network (10.0.0.0/8)") from None
        return value


class TicketSettings(Section):
    prefix: str = Field("ADU", pattern=r"^[A-Z][A-Z0-9]{1,11}$")
    sla: SlaSettings = SlaSettings()
    # A same-reporter repeat of the same text within this many hours joins the ticket.
    repeat_window_hours: float = Field(72, ge=0)


class DedupSettings(Section):
    """Near-duplicate detection (aggregator/dedup). Two reports are weighed by a
    learned model (same place, shared rare words, kind of incident, time apart...)
    into the probability that they tell one incident."""

    enabled: bool = True
    # Probability needed to join a report to a ticket; empty: the bundled model's own
    # (chosen for precision on labelled sets). Higher merges less, lower more.
    threshold: float | None = Field(None, gt=0, lt=1)
    # The verdict's model (bench/dedup_train.py writes one from your own labelled
    # reports); empty: the bundled one.
    model: ConfigPath | None = None
    # Reports with locations closer than this are at the same place; further apart
    # than `far_km` they are different incidents whatever the text says.
    near_km: float = Field(0.5, ge=0)
    far_km: float = Field(5.0, gt=0)
    # Reports further apart in time than this need 0.1 more similarity.
    time_window_hours: float = Field(72, gt=0)
    # Reports sent further apart than this are never one incident: the same problem at
    # the same place weeks later is a recurrence and gets a ticket of its own.
    recurrence_hours: float = Field(168, gt=0)
    # Tickets closed longer ago than this are no longer candidates.
    closed_window_days: float = Field(14, ge=0)
    # Reports older than this are not candidates even on an open ticket.
    max_age_days: float = Field(30, gt=0)
    # How many stored reports (most shared keys first) are verified per new report.
    max_candidates: int = Field(25, ge=1, le=1000)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class ConnectorSettings(Section):
    """Keys every connector has; each connector type subclasses this with its own."""

    type: str
    enabled: bool = True


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    tickets: TicketSettings = TicketSettings()
    dedup: DedupSettings = DedupSettings()
    logging: LoggingSettings = LoggingSettings()
    access: AccessSettings = AccessSettings()
    virality: ViralitySettings = ViralitySettings()
    escalation: EscalationSettings = EscalationSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    webui: WebUISettings = WebUISettings()
    retry: RetrySettings = RetrySettings()
    connectors: dict[str, ConnectorSettings] = Field(default_factory=dict)
    # Files the service keeps besides the database (generated secrets); mode 700.
    data_dir: ConfigPath = Path("data")
    base_dir: Path = Path(".")

    @field_validator("connectors", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for name in value:
                if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", str(name)):
                    raise ValueError(
                        f"connector name {name!r} must be lowercase letters, digits, - or _"
                    )
        return value


# --------------------------------------------------------------------------- loading


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("AGGREGATOR_CONFIG") or DEFAULT_PATH)


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of sections"])
    return parse(raw, base_dir=path.resolve().parent, env=os.environ if env is None else env)


def parse(raw: dict[str, Any], *, base_dir: Path, env: Mapping[str, str]) -> Settings:
    from aggregator.intake.plugins import PluginError, connector_type  # late: imports connectors

    missing: list[tuple[tuple[str, ...], str]] = []
    data = _substitute(raw, (), env, missing)
    problems: list[str] = []
    connectors_raw = data.pop("connectors", None) or {}
    context: dict[str, Any] = {"base_dir": base_dir}
    try:
        settings = Settings.model_validate({**data, "base_dir": base_dir}, context=context)
    except ValidationError as exc:
        problems += _lines(exc, ())
        settings = None
    context["data_dir"] = settings.data_dir if settings else base_dir / "data"
    context["web"] = settings.web if settings else WebSettings()

    connectors: dict[str, ConnectorSettings] = {}
    if not isinstance(connectors_raw, dict):
        problems.append("connectors: must be a mapping of connector name to settings")
        connectors_raw = {}
    disabled: set[str] = set()
    for name, section in connectors_raw.items():
        where = ("connectors", str(name))
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", str(name)):
            problems.append(f"connectors.{name}: name must be lowercase letters, digits, - or _")
            continue
        if not isinstance(section, dict):
            problems.append(f"connectors.{name}: must be a mapping with at least `type:`")
            continue
        kind = section.get("type")
        try:
            cls = connector_type(str(kind))
        except PluginError as exc:
            problems.append(f"connectors.{name}.type: {exc}")
            continue
        if _is_false(section.get("enabled", True)):
            disabled.add(str(name))
        try:
            connectors[str(name)] = cls.Settings.model_validate(
                section, context={**context, "connector": str(name)})
        except ValidationError as exc:
            problems += _lines(exc, where)
            if str(name) in disabled:  # never started; keep it listed
                connectors[str(name)] = ConnectorSettings(type=str(kind), enabled=False)

    for path, var in missing:
        key = ".".join(path)
        if len(path) >= 2 and path[0] == "connectors" and path[1] in disabled:
            # A disabled connector may lack its secrets (and so fail their checks).
            problems = [p for p in problems if not p.startswith(f"{key}:")]
            continue
        problems = [p for p in problems if not p.startswith(f"{key}:")]
        problems.append(f"{key}: environment variable {var} is not set")
    if settings is not None:
        problems += _cross_checks(settings, connectors)
    if problems or settings is None:
        raise ConfigError(sorted(set(problems), key=problems.index))
    return settings.model_copy(update={"connectors": connectors})


def _cross_checks(settings: Settings, connectors: Mapping[str, ConnectorSettings]
                  ) -> list[str]:
    """Keys that refer to other sections."""
    out = []
    esc = settings.escalation
    for name, target in esc.targets.items():
        secret = target.secret.get_secret_value() if target.secret is not None else None
        if esc.enabled and secret is not None and (len(secret) < 16 or is_placeholder(secret)):
            out.append(f"escalation.targets.{name}.secret: set a random secret of at "
                       "least 16 characters (shared with the receiver)")
        if target.connector is not None and esc.enabled:
            conf = connectors.get(target.connector)
            if conf is None or not conf.enabled:
                out.append(f"escalation.targets.{name}.connector: no enabled connector "
                           f"named {target.connector!r}")
    return out


def _substitute(
    value: Any, where: tuple[str, ...], env: Mapping[str, str], missing: list[Any]
) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*where, str(k)), env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*where, str(i)), env, missing) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def _one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        missing.append((where, name))
        return ""

    # Always text: a password `12345678` or `yes` stays exactly what the variable holds.
    # Numbers and booleans are read from text by the fields that expect them.
    return _VAR.sub(_one, value)


_BOOL = TypeAdapter(bool)


def _is_false(value: object) -> bool:
    try:
        return _BOOL.validate_python(value) is False
    except ValidationError:
        return False


# Key names whose values are never repeated in an error message.
_SECRET_KEY = re.compile(r"secret|password|passwd|token|key|credential|url", re.IGNORECASE)


def _lines(exc: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False, include_input=True):
        loc = [*prefix, *(str(p) for p in err["loc"])]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        elif _may_show(loc, err.get("input")):
            # Only numbers and booleans of keys that cannot hold a secret are repeated.
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{'.'.join(loc) or '(top level)'}: {msg}")
    return lines


def _may_show(loc: list[str], value: object) -> bool:
    if not isinstance(value, int | float | bool):
        return False
    return not any(_SECRET_KEY.search(part) for part in loc)
