"""Settings: one TOML file plus environment variables, with sane defaults.

Where the settings come from, lowest priority first:

1. the defaults below;
2. the TOML file named by ``PARALLAX_CONFIG`` (or ``--config``), else ``./parallax.toml``, else
   ``parallax.toml`` in the user's configuration directory (platformdirs), the first that exists;
3. environment variables (``PARALLAX_*``, ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_BASE_URL``).

Where things live unless configured (``parallax paths`` prints it): the model manifest, prompt
profiles, templates and questions ship inside the package; in a source checkout (an editable
install) its own ``models/`` and ``prompts/`` are used in place, and weights are pulled into
``models/``; otherwise weights go to the user's data directory, as does the database, always.

The bot token is held in a :class:`Secret`, whose ``repr``/``str`` never show the value, so it
cannot leak into logs, tracebacks, the database or exports by accident.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import platformdirs

from bot.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
#: a source checkout (or an editable install of one): its models/ and prompts/ are used in place
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (
    PROJECT_ROOT / "models" / "models.toml").is_file()
#: the manifest and the prompts, from the checkout or from the package data of a wheel
#: (pyproject.toml maps models/models.toml and prompts/ into the package as bot/_manifest and
#: bot/_prompts)
DEFAULT_MANIFEST = (PROJECT_ROOT / "models" if IN_CHECKOUT else PACKAGE_DIR / "_manifest") \
    / "models.toml"
DEFAULT_PROMPTS = PROJECT_ROOT / "prompts" if IN_CHECKOUT else PACKAGE_DIR / "_prompts"
#: the user's own directories (XDG on Linux: ~/.local/share/parallax, ~/.config/parallax)
USER_DATA_DIR = Path(platformdirs.user_data_dir("parallax", appauthor=False))
USER_CONFIG_FILE = Path(platformdirs.user_config_dir("parallax", appauthor=False)) / \
    "parallax.toml"

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
    manifest: Path = DEFAULT_MANIFEST
    #: where GGUF files are placed (default: beside the manifest, or the user's data directory
    #: for the manifest an installed package ships)
    models_dir: Path | None = None
    #: where pulled wheels are cached (default: <models_dir>/cache)
    cache_dir: Path | None = None
    #: the prompts folder (profiles/, templates/, questions/)
    prompts_dir: Path = DEFAULT_PROMPTS
    #: the SQLite database
    database: Path = USER_DATA_DIR / "parallax.sqlite3"
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
    #: a file the running bot refreshes every 10 s, for a health check (``parallax health``)
    heartbeat_file: Path | None = None

    @property
    def resolved_id_key_file(self) -> Path:
        return self.id_key_file or self.database.with_name(self.database.name + ".key")

    @property
    def resolved_models_dir(self) -> Path:
        if self.models_dir:
            return self.models_dir
        if self.manifest == DEFAULT_MANIFEST and not IN_CHECKOUT:
            return USER_DATA_DIR / "models"  # site-packages is no place for 850 MB of weights
        return self.manifest.parent

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
    "PARALLAX_HEARTBEAT_FILE": "heartbeat_file",
}


def _coerce(name: str, value: Any, origin: str) -> Any:
    try:
        match name:
            case "manifest" | "prompts_dir" | "database":
                return Path(value).expanduser()
            case "models_dir" | "cache_dir" | "id_key_file" | "heartbeat_file":
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


def find_config_file(explicit: Path | None = None,
                     env: dict[str, str] | None = None) -> Path | None:
    """The settings file in force: ``explicit`` (``--config``), ``PARALLAX_CONFIG``, else the
    first of ``./parallax.toml`` and the user's ``parallax.toml`` that exists."""
    env = dict(os.environ) if env is None else env
    if explicit is not None:
        return explicit
    if env.get("PARALLAX_CONFIG"):
        return Path(env["PARALLAX_CONFIG"])
    return next((p for p in (Path("parallax.toml"), USER_CONFIG_FILE) if p.is_file()), None)


def load_settings(
    config_file: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build the settings from defaults, the TOML file, the environment, then ``overrides``."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    path = find_config_file(config_file, env)
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
