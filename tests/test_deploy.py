"""The deployment files: the Dockerfile passes hadolint, compose.yaml and its manifest are
valid, the entrypoint and scripts are valid shell. The image itself is built and run in
tests/test_docker.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bot.catalog import load_catalog
from bot.config import PROJECT_ROOT


def test_the_dockerfile_passes_hadolint_and_builds_for_any_x86_64_v3_cpu() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    res = subprocess.run([hadolint, "Dockerfile"], cwd=PROJECT_ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "-DGGML_NATIVE=OFF" in text and "AVX512" not in text  # not the build host's CPU
    assert "\nUSER 10001" in text and "HEALTHCHECK" in text and "AS build" in text


def test_compose_runs_the_bot_beside_an_inference_server() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"llm", "bot"}
    assert services["llm"]["command"][:3] == ["python", "-m", "bot.serve"]
    manifest = services["bot"]["environment"]["PARALLAX_MANIFEST"]
    mounted = next(v.split(":")[0] for v in services["bot"]["volumes"] if manifest in v)
    catalog = load_catalog(PROJECT_ROOT / mounted)
    remote = catalog.get("qwen-remote").source
    assert remote.kind == "remote" and remote.endpoints[0].base_url == "http://llm:8081/v1"
    command = services["llm"]["command"]  # by default it serves what the bot's manifest names
    assert command[command.index("--port") + 1] == "${PARALLAX_LLM_PORT:-8081}"
    assert command[command.index("--model_alias") + 1] == f"${{PARALLAX_LLM_MODEL:-{remote.model}}}"
    assert command[command.index("--interrupt_requests") + 1] == "false"


def test_the_entrypoint_and_scripts_are_valid_shell() -> None:
    for script in ("docker/entrypoint.sh", "scripts/docker-base", "scripts/system-deps"):
        res = subprocess.run(["sh", "-n", str(PROJECT_ROOT / script)], capture_output=True,
                             text=True)
        assert res.returncode == 0, script + res.stderr
