"""Load on the Telegram bot: many people at once, through the Bot API test server.

50 simulated users in private chats and 3 groups (10 members each) send 300 questions, spread at
random over two minutes, to the real bot (python-telegram-bot's Application and Parallax's
pipeline, the real SmolLM2 by default) through the Bot API test server on 127.0.0.1
(tests/telegram/fake_bot_api.py: it answers 429 past Telegram's limits, as Telegram does).

Every question must end in exactly one of: its answers (the summary that quotes it), a "busy,
try again in N s" reply, or a "you already have a question waiting" reply. The benchmark counts
each, checks that none is lost or answered twice, counts the 429s the server gave and the
requests that still failed, and reports the wait until the answers (p50 / p95), the answer
rate, and the bot's memory at start, after the load, and at its peak.

    .venv/bin/python benchmarks/telegram_load.py            # about 4 minutes
    .venv/bin/python benchmarks/telegram_load.py --json     # one JSON object on stdout
    .venv/bin/python benchmarks/telegram_load.py --fake 2   # scripted models, 2 s an answer

Exit code 0 when every question ended exactly once and no request was left failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "telegram"))
sys.path.insert(0, str(ROOT / "tests"))

from harness import start_harness, stop_harness  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402

QUESTIONS = {
    "en": ["What happened at Tiananmen Square in June 1989?", "Is Taiwan a country?",
           "What is the capital of France?", "Who was Mao Zedong?"],
    "fr": ["Que s'est-il passé sur la place Tiananmen en juin 1989 ?",
           "Quelle est la capitale de la France ?", "Taïwan est-il un pays ?"],
    "zh": ["1989年6月天安门广场发生了什么？", "台湾是一个国家吗？", "法国的首都是哪里？"],
}
PREFIX = {"en": "Question {n}: ", "fr": "Question {n} : ", "zh": "问题{n}："}
BUSY = ("Busy:", "Occupé", "繁忙")
#: one message for several questions not taken while a group's budget was spent
MERGED = re.compile(r"(?:Busy: |Occupé : |繁忙：刚才在这里提出的 )(\d+) "
                    r"(?:questions asked|questions posées|个问题)")
ONE_WAITING = ("already have a question waiting", "déjà une question en attente",
               "已有一个问题在等待")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--users", type=int, default=50, help="people in private chats")
    ap.add_argument("--groups", type=int, default=3)
    ap.add_argument("--members", type=int, default=10, help="people asking in each group")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--fake", type=float, default=0.0,
                    help="scripted models taking this many seconds an answer (0: real model)")
    ap.add_argument("--drain", type=float, default=600.0, help="longest wait after the load")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    tmp = Path(tempfile.mkdtemp(prefix="parallax-load-"))
    settings = load_settings(None, env={}, database=tmp / "tg.sqlite3",
                             models=None if args.fake else args.model,
                             max_tokens=args.max_tokens, threads=2)
    if args.fake:
        from fakes import fake, fake_pipeline

        words = [f"word{i} " for i in range(40)]
        pipeline = await fake_pipeline(settings, {
            "fake-a": fake(chunks=words, delay=args.fake / 2 / len(words)),
            "fake-b": fake(chunks=words, delay=args.fake / 2 / len(words))})
    else:
        pipeline = await Pipeline.open(settings)
        errors = await pipeline.warm(pipeline.catalog.select([args.model]))
        if any(errors.values()):
            say(errors)
            return 2
    # the tests' harness: the real Application polling the Bot API test server
    h = await start_harness(tmp, pipeline=pipeline)
    api = h.api
    svc = h.app.bot_data["parallax"]  # type: ignore[attr-defined]
    rss_start = rss_mb()

    rng = random.Random(args.seed)
    groups = [-(1000 + g) for g in range(args.groups)]
    plan = []  # (at, chat, user, chat_type, text)
    for n in range(1, args.questions + 1):
        lang = rng.choice(list(QUESTIONS))
        text = PREFIX[lang].format(n=n) + rng.choice(QUESTIONS[lang])
        if rng.random() < 0.6:
            user = 1 + rng.randrange(args.users)
            plan.append((rng.uniform(0, args.seconds), user, user, "private", text, lang))
        else:
            g = rng.randrange(args.groups)
            user = 10_000 + g * 100 + rng.randrange(args.members)
            plan.append((rng.uniform(0, args.seconds), groups[g], user, "group",
                         "/ask " + text, lang))
    plan.sort()
    sent_at: dict[int, float] = {}
    chat_of: dict[int, int] = {}
    t0 = time.monotonic()
    say(f"{args.questions} questions over {args.seconds:g} s from {args.users} private users "
        f"and {args.groups} groups; model {'fake' if args.fake else args.model}")
    for n, (at, chat, user, kind, text, lang) in enumerate(plan, 1):
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        api.send_text(chat, user, text, chat_type=kind, language_code=lang)
        number = int(re.search(r"\d+", text).group())  # type: ignore[union-attr]
        sent_at[number], chat_of[number] = time.monotonic(), chat
        if n % 50 == 0:
            say(f"  {n} sent, {len(svc.jobs.queue)} waiting, rss {rss_mb():.0f} MB")
    rss_loaded = rss_mb()

    def idle() -> bool:
        return svc.jobs.idle

    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and not idle():  # noqa: ASYNC110 (polls the bot)
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)  # the last finals and notices
    drained = idle()

    # every question's outcome, from what the server recorded
    answered_at: dict[int, float] = {}
    answered_twice = 0
    told: dict[int, list[str]] = {}  # chat -> busy / one-waiting replies
    with api.cond:
        calls = list(api.calls)
    for c in calls:
        if c.status != 200 or c.method not in ("sendMessage", "editMessageText"):
            continue
        text = str(c.params.get("text", ""))
        chat = int(c.params.get("chat_id", 0))
        markup = str(c.params.get("reply_markup", ""))
        if c.method == "sendMessage" and (m := MERGED.search(text)):
            told.setdefault(chat, []).extend(["merged"] * int(m.group(1)))
        elif c.method == "sendMessage" and any(b in text for b in BUSY):
            told.setdefault(chat, []).append("busy")
        elif c.method == "sendMessage" and any(w in text for w in ONE_WAITING):
            told.setdefault(chat, []).append("one_waiting")
        elif '"w:' in markup or "w:" in markup:  # a summary (it carries the feedback buttons)
            m = re.search(r"(?:Question |问题)(\d+)", text)
            if m:
                number = int(m.group(1))
                if number in answered_at and answered_at[number] != c.at:
                    answered_twice += int(c.method == "sendMessage")
                answered_at.setdefault(number, c.at)
    per_chat_sent: dict[int, int] = {}
    for chat in chat_of.values():
        per_chat_sent[chat] = per_chat_sent.get(chat, 0) + 1
    lost = 0
    for chat, n_sent in per_chat_sent.items():
        answered = sum(1 for q, c in chat_of.items() if c == chat and q in answered_at)
        lost += max(0, n_sent - answered - len(told.get(chat, [])))
    waits = [answered_at[q] - sent_at[q] for q in answered_at]
    busy = sum(v.count("busy") for v in told.values())
    one_waiting = sum(v.count("one_waiting") for v in told.values())
    merged = sum(v.count("merged") for v in told.values())
    status = {}
    for c in calls:
        status[c.status] = status.get(c.status, 0) + 1
    rss_end = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    await stop_harness(h)

    failed_requests = sum(n for s, n in status.items() if s not in (200, 429))
    result = {
        "questions": args.questions, "seconds": args.seconds, "users": args.users,
        "groups": args.groups, "model": "fake" if args.fake else args.model,
        "answered": len(answered_at), "busy": busy, "one_waiting": one_waiting,
        "told_merged": merged,
        "lost": lost, "answered_twice": answered_twice, "drained": drained,
        "answer_rate": round(len(answered_at) / args.questions, 3),
        "wait_p50_s": pct(waits, 0.5), "wait_p95_s": pct(waits, 0.95),
        "wait_mean_s": round(statistics.mean(waits), 2) if waits else None,
        "requests": status, "failed_requests": failed_requests,
        "rss_mb": {"start": round(rss_start), "after_load": round(rss_loaded),
                   "end": round(rss_end), "peak": round(peak)},
    }
    ok = lost == 0 and answered_twice == 0 and drained and failed_requests == 0
    result["ok"] = ok
    if args.json:
        print(json.dumps(result))
    else:
        say(f"\nanswered {result['answered']} ({result['answer_rate']:.0%}), busy {busy}, "
            f"one-waiting {one_waiting}, told in a merged notice {merged}, lost {lost}, "
            f"answered twice {answered_twice}")
        say(f"wait until the answers: p50 {result['wait_p50_s']} s, p95 "
            f"{result['wait_p95_s']} s")
        say(f"Bot API requests by status: {status} (429: told to wait, and waited)")
        say(f"bot process RSS: start {rss_start:.0f} MB, after the load {rss_loaded:.0f} MB, "
            f"end {rss_end:.0f} MB, peak {peak:.0f} MB")
        say("OK" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
