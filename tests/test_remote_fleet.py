"""Models on existing inference servers: several endpoints per model, least busy first, failover
once with the answer taken back and restarted, endpoints rested after a failure; servers that
send garbage, never answer, or refuse the API key; reasoning sent apart (``reasoning_content``);
``parallax ask --remote``. Real llama-cpp-python servers on 127.0.0.1 with a tiny model, and a
scripted server for what a real one does not do on demand."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from ggufgen import tiny_manifest
from support import llama_server, real_model_path, remote_entry, require_real_model

from bot.backends.remote import RemoteBackend
from bot.catalog import parse_manifest
from bot.cli import cli
from bot.config import Settings
from bot.pipeline import Judged, Pipeline, Token
from bot.prompts import Prompts
from bot.store import Store

QUESTION = "What happened in Beijing in 1989?"


class Scripted(ThreadingHTTPServer):
    """A server that misbehaves on purpose, by path: /garbage/v1 sends events that are not
    JSON, /silent/v1 never answers, /think/v1 and /empty-think/v1 stream reasoning_content;
    /echo/v1 answers "ok" and keeps the request bodies it was sent; /cut/v1 streams a few words
    then a bare [DONE], as llama-cpp-python's server ends an answer it interrupts."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop_silent = threading.Event()
        self.bodies: list[dict[str, object]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{kind}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *args: object) -> None:
        pass

    def _events(self, events: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for e in events:
            self.wfile.write(f"data: {e}\n\n".encode())
            self.wfile.flush()

    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "scripted-model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = self.path.split("/")[1]

        def delta(**d: str) -> str:
            return json.dumps({"choices": [{"delta": d, "finish_reason": None}]})

        done = json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}]})
        if kind == "garbage":
            self._events(["{not json at all", "<html>"])
        elif kind == "silent":
            self.server.stop_silent.wait(30)
        elif kind == "think":
            self._events([delta(reasoning_content="The user asks "),
                          delta(reasoning_content="about 1989."),
                          delta(content="Students protested."), done, "[DONE]"])
        elif kind == "cut":
            self._events([delta(content="Students"), delta(content=" gathered"), "[DONE]"])
        elif kind == "echo":
            self.server.bodies.append(json.loads(sent))
            self._events([delta(content="ok"), done, "[DONE]"])
        elif kind == "empty-think":
            self._events([delta(reasoning_content=""), delta(content="An answer."), done,
                          "[DONE]"])


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.stop_silent.set()
    s.shutdown()


@pytest.fixture(scope="module")
def steady(tiny_gguf: tuple[Path, str]) -> Iterator[str]:
    with llama_server(tiny_gguf[0], "tiny-remote") as (_proc, base):
        yield base


async def ask(settings: Settings, manifest: str, models: list[str], tmp_path: Path,
              tiny: tuple[Path, str]) -> tuple[list[object], Judged]:
    text = tiny_manifest(tiny[0], tiny[1], model_id="local", extra='kv_cache = "f16"',
                         max_tokens=24) + manifest
    catalog = parse_manifest(text, tmp_path / "models.toml")
    store = await Store.open(settings.database)
    pipeline = Pipeline(settings, catalog, store, Prompts(settings.prompts_dir))
    async with pipeline:
        events = [e async for e in pipeline.ask(QUESTION, models=["local", *models])]
    judged = events[-1]
    assert isinstance(judged, Judged)
    return events, judged


async def test_an_endpoint_killed_mid_answer_fails_over_and_the_user_sees_one_answer(
        tiny_gguf: tuple[Path, str], steady: str, tmp_path: Path, settings: Settings) -> None:
    with llama_server(tiny_gguf[0], "tiny-remote") as (victim, first):
        manifest = remote_entry("fleet", first, steady, max_tokens=400)
        text = tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="local",
                             extra='kv_cache = "f16"', max_tokens=400) + manifest
        catalog = parse_manifest(text, tmp_path / "models.toml")
        store = await Store.open(settings.database)
        pipeline = Pipeline(settings, catalog, store, Prompts(settings.prompts_dir))
        events: list[object] = []
        async with pipeline:
            async for e in pipeline.ask(QUESTION, models=["local", "fleet"]):
                events.append(e)
                if isinstance(e, Token) and e.model_id == "fleet" and victim.poll() is None:
                    victim.kill()  # the first endpoint dies mid-answer
        judged = events[-1]
        assert isinstance(judged, Judged)
    local, fleet = judged.answers
    assert fleet.error is None and fleet.retried and fleet.endpoint == steady
    assert fleet.text == local.text  # one whole answer, from the start, by the other server
    restarts = [e for e in events if isinstance(e, Token) and e.restart]
    assert len(restarts) == 1 and restarts[0].model_id == "fleet"
    assert fleet.to_json()["backend"] == "remote" and fleet.to_json()["retried"] is True


async def test_garbage_and_silence_fail_over_and_a_dead_fleet_is_one_clear_error(
        tiny_gguf: tuple[Path, str], steady: str, scripted: Scripted, tmp_path: Path,
        settings: Settings) -> None:
    manifest = (remote_entry("garbled", scripted.url("garbage"), steady)
                + remote_entry("quiet", scripted.url("silent"), steady,
                               extra="read_timeout = 1")
                + remote_entry("lost", scripted.url("garbage"), scripted.url("silent"),
                               extra="read_timeout = 1"))
    _, judged = await ask(settings, manifest, ["garbled", "quiet", "lost"], tmp_path,
                          tiny_gguf)
    local, garbled, quiet, lost = judged.answers
    for a in (garbled, quiet):
        assert a.error is None and a.retried and a.endpoint == steady and a.text == local.text
    assert lost.verdict == "error" and lost.error is not None
    assert "not a server-sent JSON event" in lost.error and "ReadTimeout" in lost.error


async def test_a_wrong_api_key_is_a_clear_error_and_the_others_answer(
        tiny_gguf: tuple[Path, str], steady: str, tmp_path: Path, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARALLAX_TEST_KEY", "wrong-key")
    with llama_server(tiny_gguf[0], "tiny-remote", api_key="right-key") as (_p, guarded):
        manifest = remote_entry("guarded", guarded, extra='api_key_env = "PARALLAX_TEST_KEY"')
        _, judged = await ask(settings, manifest + remote_entry("open", steady),
                              ["guarded", "open"], tmp_path, tiny_gguf)
        local, bad, good = judged.answers
        assert bad.verdict == "error" and "HTTP 401" in (bad.error or "")
        assert "PARALLAX_TEST_KEY" in (bad.error or "")  # names where the key comes from
        assert "right-key" not in (bad.error or "") and "wrong-key" not in (bad.error or "")
        assert good.error is None and good.text == local.text
        monkeypatch.setenv("PARALLAX_TEST_KEY", "right-key")
        _, judged = await ask(settings, manifest, ["guarded"], tmp_path, tiny_gguf)
        assert judged.answers[1].error is None


async def test_reasoning_sent_apart_is_split_off_like_a_local_model_s(
        tiny_gguf: tuple[Path, str], scripted: Scripted, tmp_path: Path,
        settings: Settings) -> None:
    manifest = (remote_entry("thinker", scripted.url("think"))
                + remote_entry("blank", scripted.url("empty-think")))
    _, judged = await ask(settings, manifest, ["thinker", "blank"], tmp_path, tiny_gguf)
    _, thinker, blank = judged.answers
    assert thinker.text == "Students protested."
    assert thinker.thinking == "The user asks about 1989."
    assert blank.text == "An answer." and blank.thinking == ""  # an empty think, recorded
    assert any(r["signal"] == "empty_think" for r in blank.reasons)


def test_least_busy_first_and_a_failed_endpoint_rests(steady: str) -> None:
    from bot.catalog import Endpoint, ModelSpec, Source

    now = [100.0]
    spec = ModelSpec(id="m", name="m", organisation="o", country="FR", family="", licence="",
                     source=Source("remote", endpoints=(Endpoint("http://a/v1", "m"),
                                                        Endpoint("http://b/v1", "m"))))
    backend = RemoteBackend(spec, clock=lambda: now[0])
    a, b = backend.states
    assert backend._pick() is a  # the manifest's order breaks ties
    a.in_flight = 1
    assert backend._pick() is b  # least busy
    backend._failed(b, "refused")
    assert backend._pick() is a and b.down_until == 105.0
    backend._failed(b, "refused again")
    assert b.down_until == 110.0  # 5 s, then 10 s
    backend._failed(a, "refused")
    assert backend._pick() is a  # all down: the one back soonest
    a.in_flight = 0
    now[0] = 106.0
    assert backend._pick() is a  # b still rests
    now[0] = 111.0
    a.in_flight = 1
    assert backend._pick() is b  # rested long enough, and the least busy


def test_ask_remote_from_the_command_line(steady: str, tiny_gguf: tuple[Path, str],
                                          tmp_path: Path) -> None:
    manifest = tmp_path / "models.toml"
    manifest.write_text(tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="local",
                                      extra='kv_cache = "f16"'))
    env = {"PARALLAX_MANIFEST": str(manifest), "PARALLAX_DB": str(tmp_path / "r.sqlite3"),
           "PARALLAX_THREADS": "1", "PARALLAX_CONFIG": "", "PARALLAX_MAX_TOKENS": "24"}
    res = CliRunner().invoke(cli, ["ask", "--json", "--remote", steady,
                                   "--remote", f"{steady}#tiny-remote", QUESTION], env=env,
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    answers = json.loads(res.output)["answers"]
    assert [a["backend"] for a in answers] == ["local", "remote", "remote"]
    assert [a["model"] for a in answers] == ["local", "tiny-remote", "tiny-remote-2"]
    assert all(a["endpoint"] == steady and a["retried"] is False for a in answers[1:])
    assert answers[1]["text"] == answers[0]["text"] == answers[2]["text"]
    assert answers[0]["endpoint"] is None and answers[0]["retried"] is False
    bad = CliRunner().invoke(cli, ["ask", "--remote", "127.0.0.1:1/v1", QUESTION], env=env)
    assert bad.exit_code == 2 and "base URL" in bad.output


def test_the_manifest_takes_endpoints_with_their_own_names_keys_and_timeouts(
        tmp_path: Path) -> None:
    text = remote_entry("m", "http://a:1/v1", "http://b:2/v1/") + """
[[models]]
id = "n"
name = "N"
organisation = "O"
country = "US"
[models.source]
kind = "remote"
api_key_env = "N_KEY"
endpoints = [
  { base_url = "http://c:3/v1", model = "big", read_timeout = 30 },
  { base_url = "http://d:4/v1", api_key_env = "D_KEY", connect_timeout = 2 },
]
"""
    catalog = parse_manifest(text, tmp_path / "models.toml")
    m, n = catalog.get("m").source, catalog.get("n").source
    assert [e.base_url for e in m.endpoints] == ["http://a:1/v1", "http://b:2/v1"]
    c, d = n.endpoints
    assert (c.model, c.api_key_env, c.read_timeout) == ("big", "N_KEY", 30.0)
    assert (d.model, d.api_key_env, d.connect_timeout) == ("n", "D_KEY", 2.0)


@pytest.mark.real_model
async def test_an_answer_cut_off_by_the_server_is_not_taken_for_a_whole_one(
        tiny_gguf: tuple[Path, str], steady: str, scripted: Scripted, tmp_path: Path,
        settings: Settings) -> None:
    """A stream that ends in [DONE] without a finish_reason was cut (llama-cpp-python's server
    does it to one user's answer when another user asks, unless --interrupt_requests false):
    asked again elsewhere when there is an elsewhere, else an error that names the fix —
    never a short answer judged as if whole. And the real server, left to interrupt, cuts."""
    manifest = (remote_entry("fleet", scripted.url("cut"), steady)
                + remote_entry("alone", scripted.url("cut")))
    _, judged = await ask(settings, manifest, ["fleet", "alone"], tmp_path, tiny_gguf)
    local, fleet, alone = judged.answers
    assert fleet.error is None and fleet.retried and fleet.endpoint == steady
    assert fleet.text == local.text and "gathered" not in fleet.text
    assert alone.error is not None and alone.verdict == "error"  # what came is kept, as such
    assert "without a finish reason" in alone.error and "--interrupt_requests" in alone.error
    require_real_model("smollm2-135m")  # slow enough to be caught mid-answer
    smollm2 = real_model_path("smollm2-135m")
    with llama_server(smollm2, "smol", interrupt=True) as (_p, base):
        backend = RemoteBackend(parse_manifest(remote_entry("m", base, model="smol"),
                                               tmp_path / "m.toml").get("m"))
        from bot.backends.base import Request, Usage
        from bot.errors import BackendError

        streaming = asyncio.Event()

        async def answer(q: str) -> str:
            text = ""
            async for c in backend.stream(Request(messages=[{"role": "user", "content": q}],
                                                  max_tokens=200), Usage()):
                text += c
                streaming.set()
            return text

        # every wait is bounded: a server that dies (the stock llama_cpp.server on an AMX CPU,
        # before bot.serve) fails the test with its error instead of hanging it for an hour
        first = asyncio.create_task(answer("Write an essay about Paris."))
        try:
            started = asyncio.create_task(streaming.wait())
            await asyncio.wait({first, started}, timeout=120,
                               return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if not streaming.is_set():
                await asyncio.wait_for(first, 1)  # raises its error, or times out
                pytest.fail("the first answer ended before it streamed")
            second = await asyncio.wait_for(answer("And about Lyon?"), 120)
            with pytest.raises(BackendError, match="without a finish reason"):
                await asyncio.wait_for(first, 120)
        finally:
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            await backend.close()
        assert second


async def test_greedy_answers_ask_the_server_for_the_top_token_only(scripted: Scripted) -> None:
    """At temperature 0 the server is sent top_k = 1: the same answer (repeat penalty, then
    the most likely token, as llama-cpp-python does locally), but llama-server's samplers then
    sort one candidate instead of the vocabulary for every token of every user (measured:
    docs/performance.md). Sampling at a temperature keeps the server's own top_k."""
    from bot.backends.base import Request, Usage
    from bot.catalog import Endpoint, ModelSpec, Source

    spec = ModelSpec(id="m", name="m", organisation="o", country="FR", family="", licence="",
                     source=Source("remote", endpoints=(Endpoint(scripted.url("echo"), "m"),)))
    backend = RemoteBackend(spec)
    scripted.bodies.clear()
    try:
        for temperature in (0.0, 0.7):
            text = "".join([c async for c in backend.stream(Request(
                messages=[{"role": "user", "content": QUESTION}], max_tokens=8,
                temperature=temperature, repeat_penalty=1.15), Usage())])
            assert text == "ok"
    finally:
        await backend.close()
    greedy, warm = scripted.bodies
    assert greedy["temperature"] == 0.0 and greedy["top_k"] == 1
    assert greedy["repeat_penalty"] == 1.15 and greedy["max_tokens"] == 8
    assert warm["temperature"] == 0.7 and "top_k" not in warm


async def test_after_a_failover_no_endpoint_counts_an_answer_still_in_flight(
        steady: str, scripted: Scripted) -> None:
    from bot.backends.base import Request, Usage
    from bot.catalog import Endpoint, ModelSpec, Source

    spec = ModelSpec(id="m", name="m", organisation="o", country="FR", family="", licence="",
                     source=Source("remote", endpoints=(
                         Endpoint(scripted.url("garbage"), "tiny-remote"),
                         Endpoint(steady, "tiny-remote"))))
    backend = RemoteBackend(spec)
    usage = Usage()
    try:
        text = "".join([c async for c in backend.stream(Request(
            messages=[{"role": "user", "content": QUESTION}], max_tokens=8), usage)])
    finally:
        await backend.close()
    garbage, good = backend.states
    assert text and usage.retried and usage.endpoint == steady
    assert (garbage.in_flight, good.in_flight) == (0, 0)  # least busy stays true
    assert garbage.failures == 1 and good.failures == 0 and not garbage.up(time.monotonic())
