"""What a worker gives back to the machine: the token embedding's untouched rows, and the
garbage each answer leaves (bot/backends/worker.py, "memory"). Figures: benchmarks/speed.py
and benchmarks/memory_levers.py; these tests check that the mechanisms act and change no
answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gguf
import pytest
from support import MODELS_DIR, PROJECT_ROOT, real_model_path, require_real_model

from bot.backends.base import Request, Usage
from bot.backends.local import LocalBackend
from bot.backends.worker import gguf_tensor_offsets, row_tensor_ranges
from bot.catalog import Catalog

MiB = 2**20


def _library_offsets(path: Path) -> dict[str, int]:
    """The tensors' data offsets as llama.cpp's own gguf-py reads them."""
    return {t.name: int(t.data_offset) for t in gguf.GGUFReader(str(path)).tensors}


def test_tensor_offsets_match_gguf_py_on_a_generated_file(tiny_gguf: tuple[Path, str]) -> None:
    path, _sha = tiny_gguf
    offsets, size = gguf_tensor_offsets(str(path))
    assert offsets == _library_offsets(path)
    assert size == path.stat().st_size


@pytest.mark.real_model
@pytest.mark.parametrize("model_id", ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"])
def test_tensor_offsets_match_gguf_py_on_the_real_models(model_id: str) -> None:
    require_real_model(model_id)
    path = real_model_path(model_id)
    offsets, _size = gguf_tensor_offsets(str(path))
    assert offsets == _library_offsets(path)
    ranges = row_tensor_ranges(str(path))
    if model_id == "qwen2.5-coder-0.5b":  # an output matrix of its own: embedding read by rows
        [(start, end)] = ranges
        assert start == offsets["token_embd.weight"]
        assert 89 * MiB <= end - start < 90 * MiB
    else:  # tied embeddings: the output matrix, read whole for every token
        assert ranges == []


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ValueError, match="not a GGUF file"):
        gguf_tensor_offsets(str(bad))


def _mapped_kib(pid: int, path: Path) -> int:
    """Resident kB of ``path``'s mappings in process ``pid``."""
    total, inside = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:
            inside = line.rstrip().endswith(str(path.resolve()))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


async def _answer(backend: LocalBackend, question: str, max_tokens: int) -> str:
    request = Request(messages=[{"role": "user", "content": question}], max_tokens=max_tokens)
    return "".join([c async for c in backend.stream(request, Usage())])


async def test_released_rows_change_no_answer(tiny_catalog: Catalog, tmp_path: Path) -> None:
    spec = tiny_catalog.get("tiny-a")
    released = LocalBackend(spec, tmp_path, threads=1)
    kept = LocalBackend(spec, tmp_path, threads=1, release_rows=False)
    try:
        a = [await _answer(released, q, 40) for q in ("What happened in 1989?", "Who was it?")]
        b = [await _answer(kept, q, 40) for q in ("What happened in 1989?", "Who was it?")]
    finally:
        await released.close()
        await kept.close()
    assert a == b and all(a)
    assert released.info["released_bytes"] > 0  # the tiny model has an output matrix too
    assert kept.info["released_bytes"] == 0


@pytest.mark.real_model
async def test_qwen_worker_keeps_only_the_embedding_rows_it_reads() -> None:
    spec = require_real_model("qwen2.5-coder-0.5b")
    path = real_model_path(spec.id)
    offsets, size = gguf_tensor_offsets(str(path))
    tensors_kib = (size - min(offsets.values())) // 1024
    released = LocalBackend(spec, MODELS_DIR, threads=2)
    kept = LocalBackend(spec, MODELS_DIR, threads=2, release_rows=False)
    questions = ["What happened at Tiananmen Square in June 1989?",
                 "Que s'est-il passé sur la place Tiananmen en juin 1989 ?",
                 "1989年6月天安门广场发生了什么？"]
    try:
        a = [await _answer(released, q, 24) for q in questions]
        b = [await _answer(kept, q, 24) for q in questions]
        assert released.pid is not None and kept.pid is not None
        with_release = _mapped_kib(released.pid, path)
        without = _mapped_kib(kept.pid, path)
    finally:
        await released.close()
        await kept.close()
    assert a == b  # rows read back from the file are the same rows
    assert released.info["released_bytes"] >= 89 * MiB
    assert without >= tensors_kib - 1024  # llama.cpp keeps every page of the file resident
    # three questions in three languages brought back a few MiB of the 89
    assert with_release <= without - 75 * 1024


def test_no_sampler_outlives_its_answer(tiny_gguf: tuple[Path, str]) -> None:
    # llama-cpp-python's sampler chain is a reference cycle (its ExitStack's callback closes
    # over it): without a collection each answer's chain, and the buffers llama.cpp holds for
    # it, stay until Python's cyclic collector happens to run
    path, _sha = tiny_gguf
    script = f"""
import gc, sys
sys.path.insert(0, {str(PROJECT_ROOT)!r})
from bot.backends.worker import open_llama, release_garbage
from llama_cpp._internals import LlamaSampler
gc.disable()  # as if the collector's thresholds were not reached yet
llama = open_llama({{"path": {str(path)!r}, "n_ctx": 256, "threads": 1, "seed": 0}},
                   verbose=False)
for _ in range(3):
    llama.create_completion(llama.tokenize(b"What happened in 1989?"), max_tokens=8)
before = sum(isinstance(o, LlamaSampler) for o in gc.get_objects())
release_garbage()
after = sum(isinstance(o, LlamaSampler) for o in gc.get_objects())
print(before, after)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    before, after = int(out[-2]), int(out[-1])
    assert before >= 3
    assert after <= 1  # at most the one the Llama object still refers to
