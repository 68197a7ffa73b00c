"""The child side of a local model: one llama.cpp model in a process of its own.

``LocalBackend`` starts ``python -m bot.backends.worker CONFIG_JSON`` once per model and
supervises it. Why a process per model (measured, docs/performance.md):

- llama.cpp must not run inference from several OS threads of one process: once two threads
  have each generated, every later generation runs about 3× slower (OpenMP thread teams).
  Here one thread — the main thread — does everything llama.cpp does: load, tokenize, generate.
- A native crash, abort, out-of-memory kill or hang inside llama.cpp ends this process only;
  the parent reports that model's answer as an error and starts a new worker for the next
  question.

Protocol: JSON lines. The parent writes requests to stdin; the worker writes events to the
stdout it was started with. File descriptor 1 is then pointed at stderr, so nothing that
llama.cpp or Python prints can corrupt the protocol; stderr goes to the parent's log.

    parent -> worker                             worker -> parent
    {"op": "count", "id", "text"}                {"ev": "count", "id", "n"}
    {"op": "cut", "id", "text", "max_tokens"}    {"ev": "cut", "id", "text"}
    {"op": "generate", "id", <Request fields>}   {"ev": "token", "id", "text", "n"} ...
                                                 {"ev": "done", "id", "prompt_tokens",
                                                  "completion_tokens", "finish_reason"}
    {"op": "cancel", "id"}                       (the generation ends with "done", cancelled)
    end of stdin: exit                           {"ev": "error", "id", "message"} on failure
                                                 {"ev": "ready", ...} once, after loading

This module imports nothing from Parallax and only llama_cpp beyond the standard library, so a
worker costs little more memory than the model itself.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import mmap
import os
import queue
import re
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

#: Extra buffer types (llama_model_params.use_extra_bufts) are off: on CPUs with AMX
#: (Sapphire Rapids and later) they route matrix multiplies through ggml's AMX kernels, which
#: crash on any prompt longer than one token (ggml-org/llama.cpp#20824). Turning them off also
#: turns off weight repacking; measured here within 4% of the default speed (docs/performance.md).
USE_EXTRA_BUFTS = False


#: seconds between two token messages (the first is sent at once): 25 a second at most, more
#: than a terminal (8 refreshes a second) or Telegram (an edit every 1.5 s) can show
SEND_INTERVAL = 0.04


def model_params_override(params: Any) -> Any:
    """Parallax's changes to llama.cpp's default model parameters."""
    params.use_extra_bufts = USE_EXTRA_BUFTS
    return params


def apply_model_params_override() -> None:
    """Make every ``llama_cpp.Llama`` this process builds use ``model_params_override``.

    Llama() builds its model parameters from ``llama_model_default_params`` and offers no
    argument for use_extra_bufts; a worker (or ``bot.serve``) process holds one model, so the
    change stays in it. Idempotent."""
    import llama_cpp.llama as llama_module

    # the ctypes module Llama() calls (llama_cpp has no type information: Any for mypy)
    low: Any = getattr(llama_module, "llama_cpp")  # noqa: B009
    default_params = getattr(low, "_parallax_default_params", low.llama_model_default_params)

    def params() -> Any:
        return model_params_override(default_params())

    low._parallax_default_params = default_params
    low.llama_model_default_params = params


class Worker:
    def __init__(self, config: dict[str, Any], out: BinaryIO) -> None:
        self.config = config
        self.out = out
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.cancelled: set[int] = set()
        self.llama: Any = None
        self.formatter: Any = None
        self.threads = int(config["threads"])

    # -- I/O ---------------------------------------------------------------------------------
    def send(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, ensure_ascii=False).encode("utf-8") + b"\n")
        self.out.flush()

    def read_stdin(self) -> None:
        """Reader thread: cancels take effect at once; everything else waits its turn."""
        for line in sys.stdin.buffer:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if msg.get("op") == "cancel":
                self.cancelled.add(int(msg["id"]))
            else:
                self.inbox.put(msg)
        self.inbox.put(None)  # the parent closed the pipe: finish

    # -- load --------------------------------------------------------------------------------
    def load(self) -> None:
        self.llama = open_llama(self.config)
        self.llama.verbose = False  # no timing prints after every answer
        if self.config.get("chat"):
            self.formatter = chat_formatter(self.llama)
        self.released = 0
        if self.config.get("release_rows", True):
            try:
                self.released = release_row_tensors(self.config["path"])
            except (OSError, ValueError, struct.error) as exc:  # memory only: never fatal
                print(f"parallax: row tensors left resident: {exc}", file=sys.stderr)
        # what loading made lives as long as the worker: later collections skip it
        gc.collect()
        gc.freeze()

    # -- requests ----------------------------------------------------------------------------
    def serve(self) -> None:
        while (msg := self.inbox.get()) is not None:
            rid = int(msg.get("id", 0))
            try:
                match msg.get("op"):
                    case "count":
                        self.send({"ev": "count", "id": rid, "n": len(self.tokenize(msg["text"]))})
                    case "cut":
                        tokens = self.tokenize(msg["text"])[: max(int(msg["max_tokens"]), 1)]
                        text = self.llama.detokenize(tokens).decode("utf-8", errors="ignore")
                        self.send({"ev": "cut", "id": rid, "text": text})
                    case "generate":
                        self.generate(rid, msg)
                        release_garbage()
                    case other:
                        self.send({"ev": "error", "id": rid, "message": f"unknown op {other!r}"})
            except Exception as exc:  # one bad request never ends the worker
                self.send({"ev": "error", "id": rid, "message": f"{type(exc).__name__}: {exc}"})
            finally:
                self.cancelled.discard(rid)

    def chat_prompt(self, messages: list[dict[str, Any]]) -> tuple[Any, list[int]]:
        """The chat template's result and the prompt's tokens, where only the template's own
        text may hold control tokens: a question that contains "<|im_start|>system" is text,
        so nobody can forge a system turn."""
        contents = [str(m["content"]) for m in messages]
        if all(self.tokenize(c, special=True) == self.tokenize(c) for c in contents):
            # no control token hides in the text (nearly always): the whole prompt, exactly
            # as create_chat_completion tokenizes it
            result = self.formatter(messages=messages)
            return result, list(self.llama.tokenize(
                result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))
        marked = [{**m, "content": _MARK.format(i)} for i, m in enumerate(messages)]
        result = self.formatter(messages=marked)
        pieces = _MARKS.split(result.prompt)
        if sorted(int(i) for i in pieces[1::2]) != list(range(len(messages))):
            raise ValueError("the model's chat template changes the messages' text; it cannot "
                             "be used safely")
        tokens: list[int] = [] if result.added_special else list(
            self.llama.tokenize(b"", add_bos=True, special=True))  # BOS where the model has one
        for k, piece in enumerate(pieces):
            if k % 2:  # a message's text
                text, special = str(messages[int(piece)]["content"]), False
            else:  # the template's own text
                text, special = piece, True
            if text:
                tokens += self.tokenize(text, special=special)
        return result, tokens

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        """``text``'s tokens, without BOS; control-token text is a control token only with
        ``special``."""
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def set_threads(self, n: int) -> None:
        if n > 0 and n != self.threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self.llama.ctx, n, n)
            self.threads = n

    def generate(self, rid: int, msg: dict[str, Any]) -> None:
        from llama_cpp import StoppingCriteriaList

        llama = self.llama
        self.set_threads(int(msg.get("threads") or self.config["threads"]))
        calls = 0
        prompt_tokens = 0

        def tick(_input_ids: Any, _logits: Any) -> bool:
            # llama-cpp-python calls this once after every sampled token, and once more at the
            # end: an exact token count, and a way to stop even while text is held back
            nonlocal calls, prompt_tokens
            if calls == 0:
                prompt_tokens = llama.n_tokens  # the prompt is evaluated, nothing else
            calls += 1
            return rid in self.cancelled

        stop = list(msg.get("stop") or [])
        criteria: list[Any] = [tick]
        if msg.get("prompt") is not None:
            # completion templates (prompts/templates/) are plain text: nothing in a prompt is
            # a control token, whatever the question says
            prompt = llama.tokenize(msg["prompt"].encode("utf-8"), add_bos=True, special=False)
        else:
            if self.formatter is None:
                raise RuntimeError("chat messages sent to a model loaded without a chat template")
            # the model's own chat template (from the pinned GGUF), as create_chat_completion
            # applies it, but through create_completion so that the stopping criteria above
            # are honoured, and with the messages' own text never read as control tokens
            result, prompt = self.chat_prompt(msg["messages"])
            if result.stop:
                stop += [result.stop] if isinstance(result.stop, str) else list(result.stop)
            if result.stopping_criteria is not None:
                criteria += list(result.stopping_criteria)
        finish = ""
        interval = float(self.config.get("send_interval", SEND_INTERVAL))
        pending: list[str] = []
        last_send = 0.0

        def flush() -> None:
            nonlocal last_send
            if pending:
                self.send({"ev": "token", "id": rid, "text": "".join(pending), "n": calls,
                           "prompt_tokens": prompt_tokens})
                pending.clear()
                last_send = time.monotonic()

        if rid not in self.cancelled:
            chunks = llama.create_completion(
                prompt, max_tokens=int(msg["max_tokens"]), temperature=float(msg["temperature"]),
                top_p=float(msg["top_p"]), repeat_penalty=float(msg["repeat_penalty"]),
                seed=int(msg["seed"]), stop=stop or None, stream=True,
                stopping_criteria=StoppingCriteriaList(criteria))
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    if text:
                        pending.append(text)
                        # the first text at once, then at most one message per interval:
                        # every message wakes the parent, which shares the cores with
                        # llama.cpp's threads (docs/performance.md)
                        if not last_send or time.monotonic() - last_send >= interval:
                            flush()
                    finish = str(choice.get("finish_reason") or finish)
                    if rid in self.cancelled:
                        break
            finally:
                chunks.close()
                flush()
        if rid in self.cancelled:
            finish = "cancelled"
        # tokens sampled, the end-of-generation token included (the last call is the final one)
        self.send({"ev": "done", "id": rid, "prompt_tokens": prompt_tokens,
                   "completion_tokens": max(calls - 1, 0), "finish_reason": finish})


#: stands for message i while the chat template is rendered; private-use characters, which
#: Parallax strips from every question (bot.lang.clean_text), so no text can contain them
#: llama.cpp's logical and physical batch (llama-cpp-python's default: 512)
N_BATCH = 256

_MARK = "\ue000{}\ue001"
_MARKS = re.compile("\ue000(\\d+)\ue001")


def open_llama(cfg: dict[str, Any], verbose: bool = True) -> Any:
    """llama-cpp-python's ``Llama`` with Parallax's settings (the benchmark's baseline too).

    ``cfg``: path, n_ctx, threads, seed, and kv_cache ("f16" or "q8_0", default "f16")."""
    import llama_cpp

    apply_model_params_override()
    kv_type = {"f16": llama_cpp.GGML_TYPE_F16,
               "q8_0": llama_cpp.GGML_TYPE_Q8_0}[cfg.get("kv_cache", "f16")]
    threads = int(cfg["threads"])
    return llama_cpp.Llama(
        model_path=cfg["path"], n_ctx=int(cfg["n_ctx"]), n_threads=threads,
        n_threads_batch=threads, seed=int(cfg["seed"]), use_mmap=True,
        # a 256-token batch reads a long question as fast as 512 here and its compute buffer
        # holds 20-30 MiB less at the peak (docs/performance.md, "Memory")
        n_batch=N_BATCH,
        # sliding-window layers (Gemma 3) keep only their window, not the whole context
        swa_full=False,
        # a quantized V cache needs flash attention (llama.cpp refuses it otherwise)
        type_k=kv_type, type_v=kv_type, flash_attn=kv_type != llama_cpp.GGML_TYPE_F16,
        # verbose=False swaps fds 1 and 2 for /dev/null while loading (llama-cpp-python #1874)
        verbose=verbose)


# -- memory: tensors read one row at a time -----------------------------------------------------
#
# llama.cpp maps the GGUF file with MAP_POPULATE (llama_mmap's prefetch, always on when loading
# with mmap), so every page of every tensor is resident in the worker from the start. Most
# tensors are read whole for every token anyway; the token embedding is not when the model has
# a separate output matrix (Qwen2.5-0.5B: token_embd.weight, 89 MiB, beside output.weight):
# only the rows of the tokens a prompt or answer holds are read (ggml_get_rows). So, after
# loading, for that range only:
# - madvise(MADV_RANDOM): a row read later brings in its page, without readahead;
# - madvise(MADV_DONTNEED): the pages leave the worker's page table (the mapping is read-only
#   and file-backed: a row read later is faulted back in, unchanged);
# - posix_fadvise(POSIX_FADV_DONTNEED): the pages leave the page cache too (the kernel skips
#   pages another process maps). Without this, each fault maps the cached pages around it
#   (fault-around, 64 KiB): measured here, 65 of the 89 MiB were back after 90 questions; with
#   it, 6 MiB (docs/performance.md, "Memory").

_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_MADV_RANDOM, _MADV_DONTNEED = 1, 4


def gguf_tensor_offsets(path: str) -> tuple[dict[str, int], int]:
    """Each tensor's data offset in the file at ``path``, and the file's size.

    Reads the header as the GGUF specification lays it out (ggml/docs/gguf.md, versions 2 and
    3): magic, version, tensor count, key-value count, the key-values (skipped, apart from
    ``general.alignment``), the tensor infos, then the data section, aligned."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:4] != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", mm, 4)
        if version < 2:
            raise ValueError(f"GGUF version {version} is not supported")
        pos = 24
        alignment = 32

        def string() -> bytes:
            nonlocal pos
            (n,) = struct.unpack_from("<Q", mm, pos)
            pos += 8 + n
            return mm[pos - n:pos]

        def skip(kind: int, count: int = 1) -> None:
            nonlocal pos
            if kind in _GGUF_SCALARS:
                pos += _GGUF_SCALARS[kind] * count
            elif kind == _GGUF_STRING:
                for _ in range(count):
                    (n,) = struct.unpack_from("<Q", mm, pos)
                    pos += 8 + n
            elif kind == _GGUF_ARRAY:
                for _ in range(count):
                    inner, n = struct.unpack_from("<IQ", mm, pos)
                    pos += 12
                    skip(inner, n)
            else:
                raise ValueError(f"unknown GGUF value type {kind}")

        for _ in range(n_kv):
            key = string()
            (kind,) = struct.unpack_from("<I", mm, pos)
            pos += 4
            if key == b"general.alignment" and kind == 4:
                (alignment,) = struct.unpack_from("<I", mm, pos)
            skip(kind)
        relative: dict[str, int] = {}
        for _ in range(n_tensors):
            name = string().decode("utf-8")
            (n_dims,) = struct.unpack_from("<I", mm, pos)
            pos += 4 + 8 * n_dims
            _kind, offset = struct.unpack_from("<IQ", mm, pos)
            pos += 12
            relative[name] = offset
        start = -(-pos // alignment) * alignment
        return {name: start + off for name, off in relative.items()}, len(mm)


def row_tensor_ranges(path: str) -> list[tuple[int, int]]:
    """The file ranges of the tensors only read by rows: the token embedding, when an output
    matrix of its own exists (otherwise the embedding is that matrix, read whole)."""
    offsets, size = gguf_tensor_offsets(path)
    if "token_embd.weight" not in offsets or "output.weight" not in offsets:
        return []
    start = offsets["token_embd.weight"]
    end = min((o for o in offsets.values() if o > start), default=size)
    return [(start, end)]


def _file_mappings(path: str) -> list[tuple[int, int, int]]:
    """(start address, end address, file offset) of this process's mappings of ``path``."""
    st, real = os.stat(path), os.path.realpath(path)
    found = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            fields = line.split(maxsplit=5)
            if len(fields) < 6:
                continue
            major, minor = (int(x, 16) for x in fields[3].split(":"))
            same_file = int(fields[4]) == st.st_ino and os.makedev(major, minor) == st.st_dev
            # on overlayfs (containers) the maps line names the lower layer's device: the path
            if not same_file and fields[5].rstrip("\n") != real:
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            found.append((lo, hi, int(fields[2], 16)))
    return found


def release_row_tensors(path: str) -> int:
    """Drop the resident pages of ``path``'s row-read tensors from this process (see above);
    the bytes released. Nothing to do (0) on a system without /proc or madvise."""
    ranges = row_tensor_ranges(path)
    if not ranges or not os.path.exists("/proc/self/maps"):
        return 0
    libc = _libc()
    page = mmap.PAGESIZE
    released = 0
    for lo, hi, file_off in _file_mappings(path):
        for start, end in ranges:
            a = lo + (start - file_off)
            b = lo + (end - file_off)
            a, b = max(-(-a // page) * page, lo), min(b // page * page, hi)  # whole pages only
            if b <= a:
                continue
            for advice in (_MADV_RANDOM, _MADV_DONTNEED):
                if libc.madvise(a, b - a, advice) != 0:
                    raise OSError(ctypes.get_errno(), "madvise failed")
            released += b - a
    if released:
        fd = os.open(path, os.O_RDONLY)
        try:
            for start, end in ranges:
                os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return released


def release_garbage() -> None:
    """Free what a generation left behind, once its answer is sent.

    llama-cpp-python builds a sampler chain for every completion, and the chain refers to
    itself through the clean-up callback it registers on its own ``ExitStack``
    (``LlamaSampler.__init__``, _internals.py): a reference cycle, freed only when Python's
    cyclic collector runs, and holding llama.cpp's buffers of the vocabulary's size until
    then. Measured here (benchmarks/memory_levers.py's
    12 questions): Gemma 3's worker grew by 3 MiB a question to +30 MiB, Qwen's by 17 MiB;
    collected after each answer (then malloc_trim, glibc's return of free heap pages), both
    stay within 5 MiB of where they were after their first answer."""
    gc.collect()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:  # glibc; elsewhere the pages stay with the allocator
        trim(0)


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library already loaded in this process (madvise, malloc_trim), opened once."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


def chat_formatter(llama: Any) -> Any:
    """The Jinja chat formatter of the GGUF's own template (built as llama-cpp-python does)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ValueError("the GGUF file has no chat template")
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                               stop_token_ids=[eos_id])


def main(argv: list[str]) -> int:
    # keep the protocol stream apart, then send everything printed on fd 1 to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(json.loads(argv[1]), out)
    try:
        worker.load()
    except Exception as exc:  # llama-cpp raises ValueError/RuntimeError on bad files
        worker.send({"ev": "fatal", "message": f"{type(exc).__name__}: {exc}"})
        return 3
    params = worker.llama.model_params
    worker.send({"ev": "ready", "pid": os.getpid(),
                 "use_extra_bufts": bool(params.use_extra_bufts),
                 "n_ctx": worker.llama.n_ctx(), "released_bytes": worker.released})
    threading.Thread(target=worker.read_stdin, name="stdin", daemon=True).start()
    worker.serve()
    worker.llama.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
