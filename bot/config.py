"""Settings: one TOML file plus environment variables, with sane defaults.

Where the settings come from, lowest priority first:

1. the defaults below;
2. the TOML file named by ``PARALLAX_CONFIG``, else ``./parallax.toml`` if it exists;
3. environment variables (``PARALLAX_*``, ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_BASE_URL``).

The bot token is held in a :class:`Secret`, whose ``repr``/``str`` never show the value, so it
cannot leak into logs, tracebacks, the database or exports by accident.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Schedule = Literal["sequential", "parallel"]


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    #: the model manifest
    manifest: Path = PROJECT_ROOT / "models" / "models.toml"
    #: where GGUF files are placed (default: beside the manifest)
    models_dir: Path | None = None
    #: where pulled wheels are cached (default: <models_dir>/cache)
    cache_dir: Path | None = None
    #: the prompts folder (profiles/, templates/, questions/)
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    #: the SQLite database
    database: Path = Path("parallax.sqlite3")
    #: models asked when none is named (empty: the manifest's defaults)
    models: tuple[str, ...] = ()
    #: prompt profile used when none is named
    profile: str = "bare"
    #: "sequential": one model at a time with all threads (first full answer soonest);
    #: "parallel": all models at once, threads split between them
    schedule: Schedule = "sequential"
    #: CPU threads for inference (0: all cores)
    threads: int = 0
    #: overrides every model's max_tokens / timeout when set (>0)
    max_tokens: int = 0
    timeout_seconds: float = 0.0
    #: Telegram
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    telegram_base_url: str = ""
    operators: tuple[int, ...] = ()
    #: webhook mode (behind a reverse proxy): the public URL Telegram posts updates to, the
    #: local address to listen on, and the secret Telegram sends back in a header
    telegram_webhook_url: str = ""
    telegram_listen: str = "127.0.0.1:8080"
    telegram_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    #: after a restart, a question the bot was answering when it stopped: "resume" (answer it
    #: again in the same chat) or "tell" (tell the asker it was interrupted)
    telegram_on_restart: str = "resume"
    #: how many questions may wait in the bot's queue before it answers "busy"
    queue_limit: int = 8
    #: the key that turns Telegram ids into anonymous references, kept apart from the database
    #: so that a copy of the database does not tell who asked what (default: <database>.key,
    #: created with mode 0600 on first use)
    id_key_file: Path | None = None
    #: questions, answers and feedback older than this many days are deleted (0: kept)
    retention_days: int = 180

    @property
    def resolved_id_key_file(self) -> Path:
        return self.id_key_file or self.database.with_name(self.database.name + ".key")

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.manifest.parent

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.resolved_models_dir / "cache"

    @property
    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)


_ENV: dict[str, str] = {
    "PARALLAX_MANIFEST": "manifest",
    "PARALLAX_MODELS_DIR": "models_dir",
    "PARALLAX_CACHE_DIR": "cache_dir",
    "PARALLAX_PROMPTS_DIR": "prompts_dir",
    "PARALLAX_DB": "database",
    "PARALLAX_MODELS": "models",
    "PARALLAX_PROFILE": "profile",
    "PARALLAX_SCHEDULE": "schedule",
    "PARALLAX_THREADS": "threads",
    "PARALLAX_MAX_TOKENS": "max_tokens",
    "PARALLAX_TIMEOUT": "timeout_seconds",
    "TELEGRAM_BOT_TOKEN": "telegram_token",
    "TELEGRAM_BASE_URL": "telegram_base_url",
    "PARALLAX_OPERATORS": "operators",
    "TELEGRAM_WEBHOOK_URL": "telegram_webhook_url",
    "TELEGRAM_LISTEN": "telegram_listen",
    "TELEGRAM_WEBHOOK_SECRET": "telegram_webhook_secret",
    "PARALLAX_QUEUE_LIMIT": "queue_limit",
    "PARALLAX_ON_RESTART": "telegram_on_restart",
    "PARALLAX_ID_KEY_FILE": "id_key_file",
    "PARALLAX_RETENTION_DAYS": "retention_days",
}


class ConfigError(ValueError):
    """The configuration is wrong; the message says where and how to fix it."""


def _coerce(name: str, value: Any, origin: str) -> Any:
    try:
        match name:
            case "manifest" | "prompts_dir" | "database":
                return Path(value).expanduser()
            case "models_dir" | "cache_dir" | "id_key_file":
                return Path(value).expanduser() if value else None
            case "models":
                items = value.split(",") if isinstance(value, str) else list(value)
                return tuple(s.strip() for s in items if str(s).strip())
            case "operators":
                items = value.split(",") if isinstance(value, str) else list(value)
                return tuple(int(s) for s in items if str(s).strip())
            case "threads" | "max_tokens" | "queue_limit" | "retention_days":
                return int(value)
            case "timeout_seconds":
                return float(value)
            case "telegram_on_restart":
                if value not in ("resume", "tell"):
                    raise ValueError("must be 'resume' or 'tell'")
                return value
            case "schedule":
                if value not in ("sequential", "parallel"):
                    raise ValueError("must be 'sequential' or 'parallel'")
                return value
            case "telegram_token" | "telegram_webhook_secret":
                return Secret(str(value).strip())
            case _:
                return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: bad value for {name!r}: {exc}") from None


def load_settings(
    config_file: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build the settings from defaults, the TOML file, the environment, then ``overrides``."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    path = config_file or (Path(env["PARALLAX_CONFIG"]) if env.get("PARALLAX_CONFIG") else None)
    if path is None and Path("parallax.toml").is_file():
        path = Path("parallax.toml")
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        flat = dict(data.get("parallax", {}))
        flat.update({k: v for k, v in data.items() if not isinstance(v, dict)})
        telegram = data.get("telegram", {})
        for key, target in (("token", "telegram_token"), ("base_url", "telegram_base_url"),
                            ("operators", "operators"), ("queue_limit", "queue_limit"),
                            ("webhook_url", "telegram_webhook_url"),
                            ("listen", "telegram_listen"),
                            ("webhook_secret", "telegram_webhook_secret"),
                            ("on_restart", "telegram_on_restart")):
            if key in telegram:
                flat[target] = telegram[key]
        for key, value in flat.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, value, str(path))
    for var, name in _ENV.items():
        if env.get(var, "") != "":
            values[name] = _coerce(name, env[var], f"environment variable {var}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value, "command line")
    return replace(Settings(), **values)
