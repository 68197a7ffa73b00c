"""Generate tiny, real GGUF files that llama.cpp loads and runs, for fast engine tests.

A one-layer llama-architecture model with random weights, a SentencePiece-style vocabulary
with byte fallback (so any text tokenizes) and a ChatML chat template. Its output is gibberish,
but it is produced by the real llama.cpp, deterministically, at thousands of tokens a second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = ["▁the", "▁of", "▁and", "▁Paris", "▁Beijing", "▁square", "▁1989", "▁I", "▁cannot",
          "▁answer", "▁China", "▁Taiwan", "▁is", "▁a", "▁country", "▁protest", "▁students",
          "▁government", "▁history", "▁army"]


def write_tiny_gguf(path: Path, *, n_embd: int = 64, n_ctx: int = 512, seed: int = 0) -> str:
    """Write the model to ``path``; return its sha256."""
    rng = np.random.default_rng(seed)
    tokens: list[bytes] = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL,
             TokenType.CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>".encode())
        types.append(TokenType.BYTE)
    for w in _WORDS:
        tokens.append(w.encode())
        types.append(TokenType.NORMAL)
    for ch in "abcdefghijklmnopqrstuvwxyz":
        for piece in (f"▁{ch}".encode(), ch.encode()):
            if piece not in tokens:
                tokens.append(piece)
                types.append(TokenType.NORMAL)
    n_vocab = len(tokens)
    scores = [0.0] * 5 + [-1000.0] * 256 + [float(-i) for i in range(n_vocab - 261)]

    w = GGUFWriter(str(path), "llama")
    w.add_name("parallax-tiny-test")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_embd * 2)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(n_embd // 2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_chat_template(CHATML)

    def t(name: str, *shape: int, scale: float = 0.2) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    out = (rng.standard_normal((n_vocab, n_embd)) * 0.2).astype(np.float32)
    # control and byte tokens score 0, below the best word, so answers run to max_tokens and
    # are valid UTF-8 word by word (llama-cpp-python holds back text until bytes form a character)
    out[:261] = 0.0
    w.add_tensor("output.weight", out)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        t(f"blk.0.{name}.weight", n_embd, n_embd)
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("blk.0.ffn_gate.weight", n_embd * 2, n_embd)
    t("blk.0.ffn_up.weight", n_embd * 2, n_embd)
    t("blk.0.ffn_down.weight", n_embd, n_embd * 2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_manifest(model_path: Path, sha256: str, *, model_id: str = "tiny", n_ctx: int = 512,
                  max_tokens: int = 24, extra: str = "") -> str:
    """A manifest entry (TOML text) for a tiny model on disk."""
    return f"""
[[models]]
id = "{model_id}"
name = "Tiny {model_id}"
organisation = "Parallax tests"
country = "FR"
family = "tiny"
licence = "CC0"
sha256 = "{sha256}"
chat_format = "gguf"
default = true
n_ctx = {n_ctx}
max_tokens = {max_tokens}
timeout_seconds = 60
temperature = 0.0
repeat_penalty = 1.1
seed = 0
{extra}
[models.source]
kind = "path"
path = "{model_path}"
"""
