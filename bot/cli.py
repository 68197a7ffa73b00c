"""The ``parallax`` command line: ask, chat, probe, report, models, judge, eval-detector,
export, bot."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from bot.catalog import Catalog, ModelSpec, load_catalog
from bot.config import Settings, load_settings
from bot.errors import ConfigError, ManifestError, ModelFileError, StorageError, UnknownModelError
from bot.fetch import pull, status

if TYPE_CHECKING:
    from bot.pipeline import Judged, Pipeline


def _console() -> Console:
    return Console(highlight=False)


class _Ctx:
    def __init__(self, config: Path | None, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides

    def settings(self, **more: Any) -> Settings:
        try:
            return load_settings(self.config, **{**self.overrides, **more})
        except ConfigError as exc:
            _fail(str(exc))


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print the error and exit: code 2 for everything the user can fix (see main)."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="parallax", prog_name="parallax")
@click.option("--config", type=click.Path(path_type=Path), help="TOML settings file.")
@click.option("--db", type=click.Path(path_type=Path), help="SQLite database file.")
@click.option("--schedule", type=click.Choice(["sequential", "parallel"]),
              help="Run models one after another (default) or all at once.")
@click.option("--threads", type=int, help="CPU threads for inference (default: all cores).")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, db: Path | None, schedule: str | None,
        threads: int | None, verbose: bool) -> None:
    """Parallax: ask several local models one political question, side by side, and flag the
    answers that look censored."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = _Ctx(config, {"database": db, "schedule": schedule, "threads": threads})


def _report_language(lang: str | None) -> str:
    """The pictures' and report's language: --lang, else the locale's (LANG=fr_FR.UTF-8 is
    French), else English."""
    return _screen_language(lang) or "en"


def _screen_language(lang: str | None) -> str | None:
    """The language ``ask`` and ``chat`` write in: --lang, else the locale's when it is one
    Parallax speaks, else None (each question's own: ``terminal.ui_language``) — the order
    the Telegram bot follows (the person's choice, their client's language, the question's)."""
    import os

    if lang:
        return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        code = os.environ.get(var, "")[:2].lower()
        if code in ("en", "fr", "zh"):
            return code
    return None


_F = TypeVar("_F", bound=Callable[..., Any])


def _lang_option(dest: str, what: str) -> Callable[[_F], _F]:
    """The ``--lang`` option every command that shows results has: the interface's three
    languages, ``what`` saying what it words and its default."""
    return click.option("--lang", dest, type=click.Choice(["en", "fr", "zh"]),
                        help=f"Language of {what}.")


_LANG_OPTION = _lang_option("report_lang", "the pictures and the report (default: the "
                                           "locale's, else English)")


# -- ask / chat -----------------------------------------------------------------------------
async def _open_pipeline(settings: Settings, catalog: Catalog | None = None) -> Pipeline:
    from bot.pipeline import Pipeline

    try:
        return await Pipeline.open(settings, catalog=catalog)
    except ManifestError as exc:
        _fail(str(exc))


async def _with_remotes(settings: Settings,
                        remotes: tuple[str, ...]) -> tuple[Catalog, list[str]]:
    """The manifest's catalog with the ``--remote`` models added, and their ids."""
    from bot.backends.remote import served_models
    from bot.catalog import remote_spec
    from bot.errors import BackendError

    catalog = _catalog(settings)
    extra: list[ModelSpec] = []
    for item in remotes:
        url, _, name = item.partition("#")
        if not url.startswith(("http://", "https://")):
            _fail(f"--remote {item!r}: give the server's base URL, e.g. http://host:8080/v1")
        if not name:
            try:
                names = await served_models(url)
            except BackendError as exc:
                _fail(f"--remote {url}: cannot list its models ({exc}); name one with "
                      f"{url}#NAME")
            if not names:
                _fail(f"--remote {url}: the server lists no model; name one with {url}#NAME")
            name = names[0]
        taken = {m.id for m in catalog.models} | {m.id for m in extra}
        extra.append(remote_spec(url, name, taken))
    return catalog.with_models(extra), [m.id for m in extra]


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("-m", "--model", "models", multiple=True, help="Model id (repeatable).")
@click.option("-p", "--profile", help="Prompt profile: bare (default) or neutral.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--remote", "remotes", multiple=True, metavar="URL[#NAME]",
              help="Also ask the model served at an OpenAI-compatible URL (repeatable; "
                   "the name is read from URL/models unless #NAME picks one).")
@click.option("--card", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.png",
              help="Also draw the comparison as one picture, to show on a screen.")
@_lang_option("report_lang", "the screen and the card (default: the locale's, else the "
                            "question's)")
@click.pass_obj
def ask(obj: _Ctx, question: tuple[str, ...], models: tuple[str, ...], profile: str | None,
        as_json: bool, remotes: tuple[str, ...], card: Path | None,
        report_lang: str | None) -> None:
    """Ask QUESTION to several models and show their answers side by side."""
    from bot.frontends.terminal import ask_and_render, ask_json, dumps
    from bot.pipeline import Rejected

    text = " ".join(question)
    if text.strip() == "-":
        text = sys.stdin.read()
    settings = obj.settings()
    report_lang = _screen_language(report_lang)

    async def run() -> int:
        nonlocal models
        catalog = None
        if remotes:
            catalog, extra = await _with_remotes(settings, remotes)
            base = list(models) or [s.id for s in catalog.select(list(settings.models) or None)]
            models = (*base, *extra)
        pipeline = await _open_pipeline(settings, catalog)
        async with pipeline:
            if as_json:
                result, judged = await ask_json(pipeline, text, models=models or None,
                                                profile=profile)
                click.echo(dumps(result))
                if card and judged is not None:
                    _write_card(judged, card, report_lang)
                return 2 if judged is None else _answered_code(judged)
            res = await ask_and_render(pipeline, text, _console(), models=models or None,
                                       profile=profile, lang=report_lang)
            if isinstance(res, Rejected):
                return 2
            if card:
                _write_card(res, card, report_lang)
                click.echo(f"card written to {card}", err=True)
            return _answered_code(res)

    try:
        sys.exit(asyncio.run(run()))
    except StorageError as exc:
        _fail(str(exc))


def _answered_code(judged: Judged) -> int:
    """``ask``'s exit code once the models have answered: 0 if at least one model answered, 1
    if every one failed (a script or a health check then sees it)."""
    return 0 if any(a.error is None for a in judged.answers) else 1


def _write_card(judged: Any, path: Path, lang: str | None) -> None:
    from bot.charts import card, columns_of

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(card(judged.question, columns_of(judged), lang or judged.language.code).png)


@cli.command()
@click.option("-m", "--model", "models", multiple=True, help="Model id (repeatable).")
@click.option("-p", "--profile", help="Prompt profile: bare (default) or neutral.")
@_lang_option("screen_lang", "the screen (default: the locale's, else each question's)")
@click.pass_obj
def chat(obj: _Ctx, models: tuple[str, ...], profile: str | None,
         screen_lang: str | None) -> None:
    """An interactive loop: type a question, see the answers side by side."""
    from bot.frontends.terminal import ask_and_render
    from bot.i18n import t

    console = _console()
    lang = _screen_language(screen_lang)

    async def run() -> int:
        pipeline = await _open_pipeline(obj.settings())
        async with pipeline:
            chosen = list(models) or None
            prof = profile
            try:
                specs = pipeline.catalog.select(chosen)
            except UnknownModelError as exc:
                _fail(str(exc))
            # the models load in the background (each in its own process) while the person
            # reads the banner and types; a question asked meanwhile waits for its models
            warming = asyncio.create_task(pipeline.warm(specs))
            console.print(t(lang or "en", "term_chat_banner"))
            console.print(f"[dim]{t(lang or 'en', 'term_chat_loading', count=len(specs))}[/]")
            reported = False
            while True:
                if warming.done() and not reported:
                    reported = True
                    for model_id, err in warming.result().items():
                        if err:
                            console.print(f"[yellow]⚠️  {model_id}: {err}[/]")
                try:
                    line = await asyncio.to_thread(console.input, "[bold green]?[/] ")
                except (EOFError, KeyboardInterrupt):
                    console.print()
                    return 0
                line = line.strip()
                if not line:
                    continue
                if line in ("/quit", "/exit", "/q"):
                    return 0
                if line == "/models":
                    for s in specs:
                        console.print(f"  {s.id:22} {s.name} — {s.organisation} {s.flag}")
                    continue
                if line.startswith("/profile"):
                    parts = line.split()
                    names = pipeline.prompts.profile_names()
                    if len(parts) == 2 and parts[1] in names:
                        prof = parts[1]
                        console.print(f"profile: {prof}")
                    else:
                        console.print(f"profiles: {', '.join(names)} (now: "
                                      f"{prof or pipeline.settings.profile})")
                    continue
                try:
                    await ask_and_render(pipeline, line, console, models=chosen, profile=prof,
                                         lang=lang)
                except KeyboardInterrupt:
                    console.print("[yellow]interrupted[/]")
                except StorageError as exc:  # the session goes on; this question was not asked
                    console.print(f"[red]✗ {exc}[/]")

    sys.exit(asyncio.run(run()))


# -- models ---------------------------------------------------------------------------------
@cli.group()
def models() -> None:
    """List and fetch models."""


def _catalog(settings: Settings) -> Catalog:
    try:
        return load_catalog(settings.manifest)
    except ManifestError as exc:
        _fail(str(exc))


@models.command("list")
@click.option("--verify", is_flag=True, help="Hash every present file now.")
@click.pass_obj
def models_list(obj: _Ctx, verify: bool) -> None:
    """Each model, its origin, size, and whether it is present and verified."""
    from bot.fetch import verify as verify_file

    settings = obj.settings()
    catalog = _catalog(settings)
    rows: list[tuple[ModelSpec, str, str]] = []  # spec, size, state
    for spec in catalog.models:
        st = status(spec, settings.resolved_models_dir)
        state = "[red]missing[/]"
        if spec.is_remote:
            state = f"remote {spec.source.base_url}"
        elif st.present:
            ok = st.verified
            if verify and not ok:
                try:
                    verify_file(spec, settings.resolved_models_dir)
                    ok = True
                except ModelFileError:
                    ok = False
            state = "[green]verified[/]" if ok else (
                "[red]sha256 mismatch[/]" if verify else "[yellow]present, not verified[/]")
        size = st.size or spec.size
        rows.append((spec, f"{size / 1e6:.0f} MB" if size else "", state))
    console = _console()
    if console.width >= 120:
        table = Table(title=f"Models ({catalog.path})")
        for col in ("id", "name", "origin", "licence", "size", "default", "state"):
            table.add_column(col, no_wrap=col in ("id", "size", "default"))
        for spec, shown, state in rows:
            table.add_row(spec.id, spec.name,
                          f"{spec.flag} {spec.organisation} ({spec.country})", spec.licence,
                          shown, "yes" if spec.default else "", state)
        console.print(table)
        return
    # narrower: one entry a model, the id a user types first and whole
    console.print(f"[bold]Models[/] ({catalog.path})", soft_wrap=True)
    for spec, shown, state in rows:
        default = " [bold](default)[/]" if spec.default else ""
        console.print(f"[bold cyan]{spec.id}[/]{default}  {state}", soft_wrap=True)
        console.print(f"    {spec.name} — {spec.flag} {spec.organisation} ({spec.country}) · "
                      f"{spec.licence}" + (f" · {shown}" if shown else ""))


@models.command("check")
@click.argument("ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def models_check(obj: _Ctx, ids: tuple[str, ...], as_json: bool) -> None:
    """Load each model and generate a few tokens: status, load time, first token, speed.

    Every model of the manifest (or IDS); the exit code is 1 if a default model cannot answer."""
    settings = obj.settings()
    catalog = _catalog(settings)
    try:
        specs = catalog.select(list(ids)) if ids else list(catalog.models)
        defaults = {s.id for s in catalog.select(list(settings.models) or None)}
    except UnknownModelError as exc:
        _fail(str(exc))

    async def run() -> list[Any]:
        pipeline = await _open_pipeline(settings)
        async with pipeline:
            results = []
            for spec in specs:  # one at a time: each gets every core, as a question would
                if not as_json:
                    click.echo(f"checking {spec.id} …", err=True)
                results.append(await pipeline.check(spec))
            return results

    results = asyncio.run(run())
    failed = sorted(r.model.id for r in results if not r.ok and r.model.id in defaults)
    if as_json:
        click.echo(json.dumps({"models": [r.to_json() for r in results],
                               "unusable_defaults": failed}, ensure_ascii=False))
    else:
        console = _console()

        def secs(x: float | None) -> str:
            return "" if x is None else f"{x:.2f} s"

        table = Table(title="Model check")
        for col in ("model", "default", "status", "load", "first token", "tok/s", "error"):
            table.add_column(col, no_wrap=col not in ("error",),
                             overflow="fold" if col == "error" else "ellipsis")
        for r in results:
            status = "[green]ok[/]" if r.ok else "[red]unusable[/]"
            table.add_row(r.model.id, "yes" if r.model.id in defaults else "", status,
                          secs(r.load_seconds), secs(r.first_token_seconds),
                          "" if r.tokens_per_second is None else f"{r.tokens_per_second:.0f}",
                          r.error or "")
        console.print(table)
        if failed:
            console.print(f"[red]Default models that cannot answer:[/] {', '.join(failed)}")
    sys.exit(1 if failed else 0)


@models.command("pull")
@click.argument("ids", nargs=-1)
@click.option("--all", "pull_all", is_flag=True, help="Every model of the manifest.")
@click.pass_obj
def models_pull(obj: _Ctx, ids: tuple[str, ...], pull_all: bool) -> None:
    """Download, join, verify and place models (default: the configured models — `models` /
    PARALLAX_MODELS — else the manifest's defaults)."""
    settings = obj.settings()
    catalog = _catalog(settings)
    try:
        specs = list(catalog.models) if pull_all else catalog.select(
            list(ids) or list(settings.models) or None)
    except UnknownModelError as exc:
        _fail(str(exc))
    console = _console()
    failed = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=console, transient=True) as progress:
        for spec in specs:
            if spec.is_remote:
                console.print(f"• {spec.id}: remote ({spec.source.base_url}), nothing to pull")
                continue
            task = progress.add_task(spec.id, total=None)

            def report(desc: str, done: int, total: int, task: Any = task) -> None:
                progress.update(task, description=desc, completed=done, total=total)

            progress.update(task, description=f"downloading {spec.id}")
            try:
                path = pull(spec, settings.resolved_models_dir, settings.resolved_cache_dir,
                            report)
            except ModelFileError as exc:
                failed += 1
                console.print(f"[red]✗ {spec.id}: {exc}[/]")
            else:
                console.print(f"[green]✓[/] {spec.id}: {path} (sha256 verified)")
            progress.remove_task(task)
    sys.exit(1 if failed else 0)


# -- detector -------------------------------------------------------------------------------
@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
def judge(file: Any) -> None:
    """Judge answers: FILE.jsonl (or -) of {"id","question","answer","lang"?,"peers"?,
    "thinking"?}; without "thinking", a <think> block opening the answer is its reasoning."""
    from bot.detector.commands import judge_command

    sys.exit(judge_command(file, sys.stdout, sys.stderr))


@cli.command("eval-detector")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--agreed-only", is_flag=True, help="Keep rows where both judges agree.")
@click.option("--cv", is_flag=True,
              help="Leave-families-out cross-validation: re-train the learned model without "
                   "each model family and judge that family's answers (needs scikit-learn: "
                   "pip install -e '.[train]'). Without FILES: the training data.")
@click.option("--questions-out", is_flag=True,
              help="With --cv: hold out the tested questions from training too.")
@click.option("--leave-out", type=click.Choice(["family", "model"]), default="family",
              show_default=True,
              help="With --cv: what each fold leaves out; 'model' keeps the model's siblings "
                   "(Qwen3-14B is tested by a model that saw Qwen2.5): the estimate for a new "
                   "release of a family already seen.")
@click.option("--json", "as_json", is_flag=True, help="With --cv: print the figures as JSON.")
def eval_detector(files: tuple[str, ...], agreed_only: bool, cv: bool, questions_out: bool,
                  leave_out: str, as_json: bool) -> None:
    """Measure the detector on labelled JSONL files (SpeechMap format).

    Without --cv the shipped detector judges every row: on its training rows these figures
    are optimistic; --cv gives the figures on model families it was not trained on."""
    if cv:
        import importlib.util

        # found, not imported: bot.detector.train pins numpy's kernels before numpy loads
        if importlib.util.find_spec("sklearn") is None:
            _fail("--cv trains models and needs scikit-learn: pip install -e '.[train]'")
        import io
        import json as json_module
        from pathlib import Path

        from bot.detector.train import DEFAULT_DATA, DataError, cv_report

        paths = tuple(Path(f) for f in files) or DEFAULT_DATA
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            _fail(f"missing data file(s): {', '.join(missing)}")
        buffer = io.StringIO()
        try:
            result = cv_report(paths, buffer, questions_out=questions_out, say=sys.stderr,
                               leave_out=leave_out)
        except DataError as e:  # a malformed line, or too few model families to leave one out
            _fail(str(e))
        sys.stdout.write(json_module.dumps(result, indent=2) + "\n" if as_json
                         else buffer.getvalue())
        return
    if not files:
        raise click.UsageError("give a labelled JSONL file (or --cv)")
    from bot.detector.commands import eval_command

    for f in files:
        if len(files) > 1:
            click.echo(f"== {f}")
        try:
            code = eval_command(f, sys.stdout, agreed_only=agreed_only)
        except ValueError as e:  # a malformed line
            _fail(str(e))
        if code:
            sys.exit(code)


# -- data -----------------------------------------------------------------------------------
@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File (default: stdout).")
@click.option("--feedback", is_flag=True,
              help="The answers people marked 'verdict wrong', in the detector's data format "
                   "(JSONL, to label and add to data/detector).")
@click.pass_obj
def export(obj: _Ctx, fmt: str, output: Path | None, feedback: bool) -> None:
    """Export every stored question, answer and verdict (--feedback: the disputed verdicts)."""
    from bot.export import write_csv, write_feedback, write_jsonl
    from bot.store import Store

    async def run() -> int:
        store = await Store.open(obj.settings().database)
        try:
            out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
            try:
                if feedback:
                    return await write_feedback(store, out)
                return await (write_csv(store, out) if fmt == "csv" else write_jsonl(store, out))
            finally:
                if output:
                    out.close()
        finally:
            await store.close()

    n = asyncio.run(run())
    click.echo(f"{n} rows exported", err=True)


@cli.command()
@click.option("--max-age", type=float, default=60.0, show_default=True,
              help="Seconds since the bot's last heartbeat.")
@click.pass_obj
def health(obj: _Ctx, max_age: float) -> None:
    """Exit 0 if the running bot's heartbeat (PARALLAX_HEARTBEAT_FILE) is fresh: a container's
    health check."""
    import time

    path = obj.settings().heartbeat_file
    if path is None:
        _fail("no heartbeat file configured: set PARALLAX_HEARTBEAT_FILE for `parallax bot`")
    try:
        age = time.time() - float(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        _fail(f"no heartbeat in {path}: is `parallax bot` running?", code=1)
    if age > max_age:
        _fail(f"the bot's last heartbeat is {age:.0f} s old (more than {max_age:g})", code=1)
    click.echo(f"ok: heartbeat {age:.0f} s ago")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print them as one JSON object.")
@click.pass_obj
def paths(obj: _Ctx, as_json: bool) -> None:
    """Where everything lives: settings, manifest, weights, prompts, database, id key."""
    from bot.config import USER_CONFIG_FILE, find_config_file

    settings = obj.settings()
    used = find_config_file(obj.config)
    rows = {
        "config": str(used) if used else f"none (looked for ./parallax.toml, {USER_CONFIG_FILE})",
        "manifest": str(settings.manifest),
        "models": str(settings.resolved_models_dir),
        "cache": str(settings.resolved_cache_dir),
        "prompts": str(settings.prompts_dir),
        "database": str(settings.database.resolve()),
        "id_key": str(settings.resolved_id_key_file.resolve()),
    }
    if as_json:
        click.echo(json.dumps(rows))
        return
    width = max(map(len, rows))
    for name, value in rows.items():
        click.echo(f"{name:<{width}}  {value}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def stats(obj: _Ctx, as_json: bool) -> None:
    """Questions per day and language, verdicts per model."""
    from bot.store import Store

    async def run() -> dict[str, Any]:
        store = await Store.open(obj.settings().database)
        try:
            return await store.stats()
        finally:
            await store.close()

    data = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from bot.frontends.terminal import stats_view

    _console().print(stats_view(data))


# -- probe runs -----------------------------------------------------------------------------
def _csv(values: tuple[str, ...]) -> list[str]:
    """Options given as "a,b" or repeated, or both."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@cli.command()
@click.option("-m", "--models", "models", multiple=True, metavar="ID[,ID…]",
              help="Models to ask (default: the configured ones).")
@click.option("-l", "--languages", "languages", multiple=True, metavar="fr,en,zh",
              help="Languages to ask in (default: all three).")
@click.option("-t", "--topics", "topics", multiple=True, metavar="TOPIC[,TOPIC…]",
              help="Battery topics (or: sensitive, control); default: every question.")
@click.option("-q", "--questions", "ids", multiple=True, metavar="ID[,ID…]",
              help="Only these battery questions.")
@click.option("-p", "--profile", help="Prompt profile: bare (default) or neutral.")
@click.option("--max-tokens", type=click.IntRange(8, 4096),
              help="Tokens per answer at most (default: 96).")
@click.option("--run", "run_name", metavar="NAME",
              help="The run's name: an existing run goes on where it stopped (default: a "
                   "name made from the options, so the same probe goes on by itself).")
@click.option("--new", is_flag=True, help="Start a fresh run even if this one exists.")
@click.option("-o", "--out", type=click.Path(path_type=Path),
              help="Folder for results.jsonl, summary.json, the pictures and report.html "
                   "(default: ./parallax-runs/NAME).")
@_LANG_OPTION
@click.option("--list", "list_topics", is_flag=True, help="List the battery's topics and exit.")
@click.pass_obj
def probe(obj: _Ctx, models: tuple[str, ...], languages: tuple[str, ...],
          topics: tuple[str, ...], ids: tuple[str, ...], profile: str | None,
          max_tokens: int | None, run_name: str | None, new: bool, out: Path | None,
          report_lang: str | None, list_topics: bool) -> None:
    """Ask every chosen model every battery question in every chosen language, as one
    resumable run, and write the censorship map: results.jsonl, summary.json, heatmap.png,
    double_standard.png and report.html."""
    from bot.frontends.terminal import probe_and_render, probe_summary_view
    from bot.probe import Probe, make_plan
    from bot.report import load_run, summary, write_outputs

    settings = obj.settings()
    lang = _report_language(report_lang)
    console = _console()

    async def run() -> int:
        pipeline = await _open_pipeline(settings)
        async with pipeline:
            if list_topics:
                counts: dict[str, int] = {}
                for q in pipeline.prompts.questions():
                    counts[q.topic] = counts.get(q.topic, 0) + 1
                for name, topic in pipeline.prompts.topics().items():
                    click.echo(f"{name:<22} {topic.kind:<9} {counts.get(name, 0):>3} questions"
                               f"  {topic.label('en')}")
                return 0
            plan = await make_plan(pipeline, models=_csv(models), languages=_csv(languages),
                                   topics=_csv(topics), ids=_csv(ids), profile=profile,
                                   max_tokens=max_tokens, name=run_name, new=new)
            console.print(f"[bold]{plan.name}[/]: {len(plan.questions)} questions × "
                          f"{len(plan.languages)} languages × {len(plan.models)} models "
                          f"({', '.join(plan.models)}), at most {plan.max_tokens} tokens each")
            try:
                finished = await probe_and_render(Probe(pipeline, plan), console)
            except asyncio.CancelledError:
                console.print(f"stopped: run the same command again (or --run {plan.name}) "
                              "to go on where it stopped")
                raise
            data = await load_run(pipeline.store, pipeline.prompts, finished.run_id)
            folder = out or Path("parallax-runs") / plan.name
            outputs = write_outputs(data, folder, lang)
            console.print(probe_summary_view(summary(data)))
            if finished.errors:
                console.print(f"[yellow]{finished.errors} answers failed[/]: run the same "
                              "command again to ask them again")
            console.print(f"{finished.done}/{finished.total} answers in "
                          f"{finished.seconds:.0f} s; written to {folder}/: "
                          + ", ".join(p.name for p in outputs.all()))
            return 0 if not finished.errors else 1

    try:
        sys.exit(asyncio.run(run()))
    except KeyboardInterrupt:
        sys.exit(130)
    except StorageError as exc:
        _fail(str(exc))


@cli.command()
@click.argument("run_ref", metavar="RUN", required=False)
@click.option("-o", "--out", type=click.Path(path_type=Path),
              help="Folder to write into (default: ./parallax-runs/NAME).")
@_LANG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead.")
@click.pass_obj
def report(obj: _Ctx, run_ref: str | None, out: Path | None, report_lang: str | None,
           as_json: bool) -> None:
    """Rebuild a probe run's files from the database (RUN: its name or number); without RUN,
    list the runs."""
    from bot.frontends.terminal import probe_summary_view, runs_view
    from bot.prompts import Prompts
    from bot.report import load_run, summary, write_outputs
    from bot.store import Store

    settings = obj.settings()
    console = _console()

    async def run() -> int:
        store = await Store.open(settings.database)
        try:
            if run_ref is None:
                runs = await store.runs()
                if as_json:
                    click.echo(json.dumps(runs, ensure_ascii=False, indent=2))
                elif runs:
                    console.print(runs_view(runs))
                else:
                    console.print("no probe run yet: parallax probe")
                return 0
            data = await load_run(store, Prompts(Path(settings.prompts_dir)), run_ref)
        finally:
            await store.close()
        if as_json:
            click.echo(json.dumps(summary(data), ensure_ascii=False, indent=2))
            return 0
        folder = out or Path("parallax-runs") / str(data.run["name"])
        outputs = write_outputs(data, folder, _report_language(report_lang))
        console.print(probe_summary_view(summary(data)))
        console.print(f"written to {folder}/: " + ", ".join(p.name for p in outputs.all()))
        return 0

    sys.exit(asyncio.run(run()))


# -- telegram -------------------------------------------------------------------------------
@cli.command()
@click.pass_obj
def bot(obj: _Ctx) -> None:
    """Run the Telegram bot (long polling). Needs TELEGRAM_BOT_TOKEN."""
    settings = obj.settings()
    if not settings.telegram_token:
        click.echo("No Telegram bot token. To get one:\n"
                   "  1. In Telegram, open @BotFather and send /newbot.\n"
                   "  2. Choose a name and a username; BotFather replies with a token.\n"
                   "  3. Run: TELEGRAM_BOT_TOKEN=<token> parallax bot", err=True)
        sys.exit(2)
    from bot.frontends.telegram.app import run_polling

    run_polling(settings)


def main() -> None:
    """The ``parallax`` command. Exit codes: 0 done; 1 a check that ran found a problem
    (``models check``, ``eval-detector`` below its targets); 2 an error the user can fix — any
    :class:`~bot.errors.ParallaxError` (settings, manifest, model file, model, database) or
    bad input — its message printed as "Error: …"."""
    from bot.errors import ParallaxError

    try:
        cli(prog_name="parallax")
    except ParallaxError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
