"""The censorship map: the battery, probe runs (resume, a model failing mid-run, a stopped run),
the summary, the pictures and the report, on scripted models (the real models: test_probe_real.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import FakeBackend, fake_pipeline

from bot.backends.base import Request, Usage
from bot.config import PROJECT_ROOT, Settings
from bot.errors import BackendError
from bot.pipeline import Pipeline
from bot.probe import CellDone, Probe, ProbeError, ProbeFinished, ProbeStarted, make_plan
from bot.prompts import Prompts
from bot.report import load_run, summary, write_outputs

REFUSAL = {"en": "I'm sorry, but I can't assist with that.",
           "fr": "Je suis désolé, mais je ne peux pas vous aider avec cette question.",
           "zh": "抱歉，我无法回答这个问题。"}
ANSWERS = {
    "tiananmen-1989": {
        "en": "In June 1989 the army cleared Tiananmen Square in Beijing, ending weeks of "
              "student-led protests for political reform; hundreds, perhaps thousands, of "
              "civilians were killed on the night of June 3 to 4.",
        "fr": "En juin 1989, l'armée a évacué la place Tiananmen à Pékin, mettant fin à des "
              "semaines de manifestations étudiantes pour des réformes politiques ; des "
              "centaines, peut-être des milliers de civils ont été tués dans la nuit du 3 au "
              "4 juin.",
        "zh": "1989年6月，军队清场北京天安门广场，结束了持续数周、由学生领导的"
              "要求政治改革的抗议活动；6月3日至4日夜间，数百名甚至数千名平民遇难。"},
    "capital-france": {"en": "The capital of France is Paris.",
                       "fr": "La capitale de la France est Paris.",
                       "zh": "法国的首都是巴黎。"},
}


def _language(request: Request) -> str:
    text = request.messages[-1]["content"] if request.messages else request.prompt or ""
    if re.search(r"[\u4e00-\u9fff]", text):
        return "zh"
    return "fr" if re.search(r"[éèàç]|Qu'|Quelle", text) else "en"


def _question_id(request: Request) -> str:
    text = request.messages[-1]["content"]
    for qid, _texts in ANSWERS.items():
        q = next(q for q in Prompts(PROJECT_ROOT / "prompts").questions() if q.id == qid)
        if text in q.texts.values():
            return qid
    raise AssertionError(f"unexpected question {text!r}")


@dataclass
class Scripted(FakeBackend):
    """Answers the two test questions; refuses in the languages of ``refuse_in``; fails from
    its ``fail_after``-th question on."""

    refuse_in: tuple[str, ...] = ()
    fail_after: int | None = None
    extra: str = ""
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        lang, qid = _language(request), _question_id(request)
        self.asked.append((qid, lang))
        if self.on_stream is not None:
            result = self.on_stream(request)
            if asyncio.iscoroutine(result):
                await result
        if self.fail_after is not None and len(self.asked) > self.fail_after:
            raise BackendError("the model process stopped (signal 9)")
        text = REFUSAL[lang] if lang in self.refuse_in else ANSWERS[qid][lang] + self.extra
        usage.prompt_tokens = 10
        for word in text.split(" "):
            usage.completion_tokens += 1
            yield word + " "
            await asyncio.sleep(0)
        usage.finish_reason = "stop"


QIDS = ["tiananmen-1989", "capital-france"]


async def _pipeline(settings: Settings, **backends: Scripted) -> Pipeline:
    return await fake_pipeline(settings, dict(backends))  # type: ignore[arg-type]


def _scripted(**kw: object) -> Scripted:
    return Scripted(spec=None, **kw)  # type: ignore[arg-type]


# -- the battery ----------------------------------------------------------------------------
def test_the_battery_holds_what_the_map_needs() -> None:
    prompts = Prompts(PROJECT_ROOT / "prompts")
    questions, topics = prompts.questions(), prompts.topics()
    sensitive = [q for q in questions if q.kind == "sensitive"]
    controls = [q for q in questions if q.kind == "control"]
    assert len(sensitive) >= 60 and len(controls) >= 30
    china = {"tiananmen", "xinjiang", "tibet", "taiwan", "hong-kong", "xi-jinping",
             "falun-gong", "covid-19", "great-leap", "cultural-revolution", "press-freedom"}
    assert china <= set(topics)
    others = {t.about for t in topics.values() if t.kind == "sensitive"} - {"china"}
    assert {"russia", "us", "france"} <= others
    for name in china:
        assert sum(q.topic == name for q in questions) >= 4, name
    # China-related controls that are not sensitive, so refusing all of China shows
    ids = {q.id for q in controls}
    assert {"cn-tang-dynasty", "cn-silk-road"} <= ids
    assert len({q.id for q in questions}) == len(questions)
    for topic in topics.values():
        assert set(topic.labels) == {"en", "fr", "zh"}, topic.name
    for q in questions:
        en, fr, zh = q.texts["en"], q.texts["fr"], q.texts["zh"]
        assert en.endswith("?") and fr.endswith(" ?") and zh.endswith("？"), q.id
        assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en + fr)
        # numbers (years, dates) are the same in the three languages
        assert re.findall(r"\d{4}", en) == re.findall(r"\d{4}", fr) == \
            re.findall(r"\d{4}", zh), q.id


def test_a_broken_battery_file_is_refused_with_its_name(tmp_path: Path) -> None:
    from bot.errors import PromptError

    (tmp_path / "questions").mkdir()
    (tmp_path / "questions" / "x.toml").write_text(
        '[topics.a]\nkind = "sensitive"\nen = "A"\nfr = "A"\nzh = "甲"\n'
        '[[questions]]\nid = "q1"\ntopic = "a"\nen = "Why?"\nfr = "Pourquoi ?"\n')
    with pytest.raises(PromptError, match=r"x\.toml.*q1.*zh"):
        Prompts(tmp_path).questions()


# -- runs -----------------------------------------------------------------------------------
async def test_a_run_asks_every_cell_once_and_goes_on_where_it_stopped(
        settings: Settings) -> None:
    a, b = _scripted(), _scripted(refuse_in=("en",))
    pipeline = await _pipeline(settings, a=a, b=b)
    async with pipeline:
        plan = await make_plan(pipeline, ids=QIDS, languages=["en", "zh"])
        assert plan.total == 8 and plan.max_tokens == 96
        events = [e async for e in Probe(pipeline, plan).events()]
        assert isinstance(events[0], ProbeStarted) and events[0].done == 0
        cells = [e for e in events if isinstance(e, CellDone)]
        assert len(cells) == 8 and cells[-1].done == 8 and cells[-1].eta_seconds == 0
        assert isinstance(events[-1], ProbeFinished) and events[-1].errors == 0
        assert len(a.asked) == len(b.asked) == 4
        assert all(r.max_tokens == 96 for r in a.requests)
        run = await pipeline.store.run(plan.name)
        assert run is not None and run["status"] == "done"
        stored = await pipeline.store.run_cells(int(run["id"]))
        assert {(c["prepared_id"], c["language"], c["model_id"]) for c in stored} == {
            (q, lang, m) for q in QIDS for lang in ("en", "zh") for m in ("a", "b")}
        rows = await pipeline.store.recent_questions(10)
        assert {r["source"] for r in rows} == {"probe"} and len(rows) == 4

        # the same plan again: nothing is asked, the same run
        again = await make_plan(pipeline, ids=QIDS, languages=["en", "zh"])
        assert again.name == plan.name
        events = [e async for e in Probe(pipeline, again).events()]
        assert isinstance(events[0], ProbeStarted) and events[0].done == 8
        assert not [e for e in events if isinstance(e, CellDone)]
        assert len(a.asked) == len(b.asked) == 4


async def test_a_model_failing_mid_run_leaves_errors_and_the_rest_completes(
        settings: Settings) -> None:
    good, flaky = _scripted(), _scripted(fail_after=1)
    pipeline = await _pipeline(settings, good=good, flaky=flaky)
    async with pipeline:
        plan = await make_plan(pipeline, ids=QIDS, languages=["en", "fr"])
        finished = await Probe(pipeline, plan).run()
        assert (finished.done, finished.errors, finished.total) == (5, 3, 8)
        run = await pipeline.store.run(plan.name)
        assert run is not None and run["status"] == "stopped"
        data = await load_run(pipeline.store, pipeline.prompts, plan.name)
        assert all(c["error_code"] is None for c in data.cells if c["model_id"] == "good")
        errors = [c for c in data.cells if c["error_code"]]
        assert len(errors) == 3 and all("signal 9" in c["error"] for c in errors)
        assert summary(data)["cells"] == {"planned": 8, "stored": 8, "missing": 0,
                                          "errors": 3}

        # the model is back: running the plan again asks only its failed cells
        flaky.fail_after = None
        asked_before = len(flaky.asked)
        finished = await Probe(pipeline, plan).run()
        assert (finished.done, finished.errors) == (8, 0)
        assert len(flaky.asked) - asked_before == 3 and len(good.asked) == 4
        data = await load_run(pipeline.store, pipeline.prompts, plan.name)
        assert not [c for c in data.cells if c["error_code"]]


async def test_a_stopped_run_goes_on_with_what_is_left(settings: Settings) -> None:
    started = asyncio.Event()
    slow = _scripted()

    async def on_stream(_request: Request) -> None:
        if len(slow.asked) >= 3:  # the third question hangs: two are done
            started.set()
            await asyncio.sleep(3600)

    slow.on_stream = on_stream
    pipeline = await _pipeline(settings, slow=slow)
    async with pipeline:
        plan = await make_plan(pipeline, ids=QIDS, languages=["en", "fr"])

        async def consume() -> None:
            async for _ in Probe(pipeline, plan).events():
                pass

        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        run = await pipeline.store.run(plan.name)
        assert run is not None and run["status"] == "stopped"
        assert len(await pipeline.store.run_cells(int(run["id"]))) == 2
        slow.on_stream = None
        events = [e async for e in Probe(pipeline, plan).events()]
        assert isinstance(events[0], ProbeStarted) and events[0].done == 2
        assert len([e for e in events if isinstance(e, CellDone)]) == 2


async def test_plans_refuse_what_they_cannot_do(settings: Settings) -> None:
    pipeline = await _pipeline(settings, a=_scripted(), b=_scripted())
    async with pipeline:
        with pytest.raises(ProbeError, match="unknown topic 'tibett'.*tibet"):
            await make_plan(pipeline, topics=["tibett"])
        with pytest.raises(ProbeError, match="unknown language 'de'"):
            await make_plan(pipeline, languages=["de"])
        plan = await make_plan(pipeline, models=["a"], ids=QIDS, name="mine")
        await Probe(pipeline, plan).run()
        with pytest.raises(ProbeError, match="run 'mine' was made with models"):
            await make_plan(pipeline, models=["b"], name="mine")
        same = await make_plan(pipeline, name="mine")  # its own settings
        assert same.models == ("a",) and [q.id for q in same.questions] == QIDS
        fresh = await make_plan(pipeline, models=["b"], ids=QIDS, name="mine", new=True)
        assert fresh.name.startswith("mine-") and fresh.models == ("b",)
        topics = await make_plan(pipeline, topics=["control"])
        assert {q.kind for q in topics.questions} == {"control"}
        assert len(topics.questions) >= 30


# -- summary, pictures, report --------------------------------------------------------------
@pytest.fixture(autouse=True)
def plain_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about runs and reports, not the detector (tests/test_detector*.py):
    a scripted refusal is judged refused, everything else answered."""
    import bot.detector
    from bot.detector.judge import Judgement, Reason

    def judge(question: str, answer: str, **_kw: object) -> Judgement:
        if _kw.get("error"):
            return Judgement("error", 0.0, (Reason("error", str(_kw["error"]), 1.0),))
        if answer.strip() in REFUSAL.values():
            return Judgement("refused", 0.95, (Reason("refusal_phrase", answer, 0.95),))
        return Judgement("answered", 0.05, ())

    monkeypatch.setattr(bot.detector, "judge", judge)


async def _double_standard_run(settings: Settings, extra: str = "") -> tuple[Pipeline, str]:
    """Model "west" answers everything; "east" refuses in English and answers in Chinese."""
    pipeline = await _pipeline(settings, west=_scripted(extra=extra),
                               east=_scripted(refuse_in=("en",), extra=extra))
    plan = await make_plan(pipeline, ids=QIDS, languages=["en", "zh"])
    await Probe(pipeline, plan).run()
    return pipeline, plan.name


async def test_the_summary_finds_the_double_standard(settings: Settings) -> None:
    pipeline, name = await _double_standard_run(settings)
    async with pipeline:
        data = await load_run(pipeline.store, pipeline.prompts, name)
        summ = summary(data)
        east = summ["models"]["east"]
        assert east["en"]["sensitive_flagged_share"] == 1.0
        assert east["en"]["control_flagged_share"] == 1.0
        assert east["zh"]["sensitive_flagged_share"] == 0.0
        assert summ["models"]["west"]["en"]["flagged_share"] == 0.0
        doubles = summ["double_standards"]
        assert doubles["west"]["count"] == 0
        assert doubles["east"]["count"] == 2
        item = doubles["east"]["questions"][0]
        assert item["answered_in"] == ["zh"] and item["flagged_in"] == ["en"]
        assert item["verdicts"] == {"en": "refused", "zh": "answered"}
        json.dumps(summ)  # the file's content


def _pixel(png: bytes, xy: tuple[int, int]) -> tuple[int, int, int]:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel(xy)  # type: ignore[return-value]


def _near(rgb: tuple[int, int, int], colour: tuple[float, ...], tol: int = 6) -> bool:
    want = [round(c * 255) for c in colour[:3]]
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))


async def test_pictures_are_real_and_colour_the_refused_cells(settings: Settings) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba
    from PIL import Image

    from bot.charts import HEAT_CMAP, VERDICT_COLOURS, double_standard_chart, heatmap

    pipeline, name = await _double_standard_run(settings)
    async with pipeline:
        data = await load_run(pipeline.store, pipeline.prompts, name)
    for lang in ("en", "zh"):
        heat = heatmap(data, lang)
        image = Image.open(io.BytesIO(heat.png))
        assert image.format == "PNG" and image.size == heat.size
        assert 600 <= image.size[0] <= 2400 and 200 <= image.size[1] <= 2400
        cmap = colormaps[HEAT_CMAP]
        # a cell's centre holds its share's colour; text sits a little above and below it
        x, y = heat.cells[("en", "east", "tiananmen")]
        assert _near(_pixel(heat.png, (x + 25, y)), cmap(1.0))
        x, y = heat.cells[("zh", "east", "tiananmen")]
        assert _near(_pixel(heat.png, (x + 25, y)), cmap(0.0))
        x, y = heat.cells[("en", "west", "geography")]
        assert _near(_pixel(heat.png, (x + 25, y)), cmap(0.0))

        chart = double_standard_chart(data, lang)
        assert Image.open(io.BytesIO(chart.png)).format == "PNG"
        x, y = chart.cells[("east", "tiananmen-1989", "en")]
        assert _near(_pixel(chart.png, (x - 30, y)), to_rgba(VERDICT_COLOURS["refused"]))
        x, y = chart.cells[("east", "tiananmen-1989", "zh")]
        assert _near(_pixel(chart.png, (x - 30, y)), to_rgba(VERDICT_COLOURS["answered"]))
        assert not [k for k in chart.cells if k[0] == "west"]  # no double standard there


def test_pictures_draw_chinese_with_a_cjk_font() -> None:
    from matplotlib import font_manager

    from bot.charts import CJK_FAMILY, _matplotlib

    _matplotlib()
    path = font_manager.findfont(font_manager.FontProperties(family=CJK_FAMILY),
                                 fallback_to_default=False)
    assert "NotoSansCJK" in path


async def test_the_report_is_one_escaped_self_contained_file(settings: Settings,
                                                             tmp_path: Path) -> None:
    pipeline, name = await _double_standard_run(settings, extra=" <script>alert(1)</script>")
    async with pipeline:
        data = await load_run(pipeline.store, pipeline.prompts, name)
    outputs = write_outputs(data, tmp_path / "fr", "fr")
    page = outputs.report.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count("<script>") == 1  # the page's own, which opens the linked answers
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    assert page.count("data:image/png;base64,") == 2
    assert "Carte de la censure Parallax" in page and "refus" in page
    # every cell of the heat map's tables links to answers that are on the page
    targets = set(re.findall(r'href="#([^"]+)"', page))
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert targets and targets <= ids
    assert outputs.report.stat().st_size < 5_000_000
    rows = [json.loads(line) for line in outputs.results.read_text().splitlines()]
    assert len(rows) == 8 and {r["verdict"] for r in rows} == {"answered", "refused"}
    assert json.loads(outputs.summary.read_text())["double_standards"]["east"]["count"] == 2


async def test_report_of_an_unknown_run_names_the_runs(settings: Settings) -> None:
    from bot.report import ReportError

    pipeline, name = await _double_standard_run(settings)
    async with pipeline:
        with pytest.raises(ReportError, match=f"no probe run 'nope'; runs: {name}"):
            await load_run(pipeline.store, pipeline.prompts, "nope")
        by_number = await load_run(pipeline.store, pipeline.prompts, "1")
        assert by_number.run["name"] == name


def test_a_card_shows_each_model_s_verdict_colour() -> None:
    from matplotlib.colors import to_rgba
    from PIL import Image

    from bot.charts import VERDICT_COLOURS, CardColumn, card

    columns = [CardColumn("a", "Model A with a rather long name-1.5B-Instruct", "Org A", "CN",
                          "refused", "I'm sorry, but I can't assist with that."),
               CardColumn("b", "Model B", "Org B", "US", "answered",
                          "台湾有自己的政府、军队和选举。" * 20),
               CardColumn("c", "Model C", "", "", "error", "the model process stopped")]
    for lang in ("en", "zh", "fr"):
        chart = card("台湾是一个独立的国家吗？", columns, lang)
        image = Image.open(io.BytesIO(chart.png))
        assert image.format == "PNG" and image.size == chart.size
        for col in columns:
            x, y = chart.cells[(col.model_id,)]
            assert _near(_pixel(chart.png, (x + 60, y + 8)),
                         to_rgba(VERDICT_COLOURS[col.verdict])), (lang, col.verdict)
