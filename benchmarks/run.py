"""Streaming cost, measured against the floor and against Mistral's own client.

    python benchmarks/run.py           # the full run, a few minutes
    python benchmarks/run.py --quick   # a seconds-long smoke run of the same code

Prints one table: each figure, what was measured, its target, and pass/fail.
Contenders run side by side in one run, interleaved, and the median of the
repetitions is reported. CPU is this process's (``time.process_time``); the
loopback server runs in its own process so its work is not counted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from mistral_magic.cell_output import LiveMarkdown  # noqa: E402
from mistral_magic.render import bundle, render_html  # noqa: E402

from corpus import markdown_reply, tokens  # noqa: E402
from over import LATENCY, over_throughput  # noqa: E402
from probes import KEY, MODEL, split_words  # noqa: E402

CHAT = "/v1/chat/completions"
FOOTER = "mistral-small-latest · 12 in / 148 out tokens · first token 0.31 s · total 2.40 s"


@dataclass
class Size:
    """How much work each figure does: the full run, or the smoke run."""

    chunks: int
    reps: int
    official_reps: int
    lengths: tuple[int, ...]
    stream_seconds: int
    probe_reps: int
    replies: int
    turns: int
    reply_words: int
    rows: int


FULL = Size(20_000, 5, 3, (1_000, 4_000, 16_000, 64_000), 60, 5, 5, 1_000, 64_000, 10_000)
QUICK = Size(1_000, 1, 1, (250, 1_000), 5, 1, 2, 20, 2_000, 300)


class Table:
    """Rows of figure, measured value, target and verdict, printed as they come."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        print(f"{'figure':<64} {'measured':>16}  {'target':<10} result")

    def section(self, title: str) -> None:
        print(f"\n{title}", flush=True)

    def row(self, figure: str, measured: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else "pass" if ok else "FAIL"
        if ok is False:
            self.failed.append(figure)
        print(f"  {figure:<62} {measured:>16}  {target:<10} {verdict}".rstrip(), flush=True)


# --------------------------------------------------------------------------- 1. throughput


@contextmanager
def loopback_server(*options: str) -> Iterator[str]:
    """The test suite's Mistral emulator, standalone, in its own process."""
    server = subprocess.Popen([sys.executable, "-m", "mistral_server", "--port", "0", "--key", KEY, *options],
                              cwd=ROOT / "tests", stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        if not line.startswith("READY "):
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        yield line.split()[1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def echo_prompt(chunks: int) -> str:
    """A prompt the server echoes back as ``chunks`` content chunks ("Echo: " is the first)."""
    return "".join(split_words(markdown_reply(chunks * 2, seed=3))[: chunks - 1])


def floor(url: str, messages: list[dict[str, str]]) -> str:
    """The least any client can do: raw httpx, read lines, ``json.loads`` each chunk, join."""
    import httpx

    parts = []
    payload = {"model": MODEL, "messages": messages, "stream": True}
    with httpx.Client(base_url=url, timeout=60) as http, http.stream(
            "POST", CHAT, json=payload, headers={"Authorization": f"Bearer {KEY}"}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[6:]
                if data == "[DONE]":
                    break
                parts.append(json.loads(data)["choices"][0]["delta"].get("content") or "")
    return "".join(parts)


def through_api(client_class: Any) -> Callable[[str, list[dict[str, str]]], str]:
    """``client.chat.stream`` as a user of either client writes it."""
    def stream(url: str, messages: list[dict[str, str]]) -> str:
        parts = []
        with client_class(api_key=KEY, server_url=url) as client, \
                client.chat.stream(model=MODEL, messages=messages) as events:
            for event in events:
                parts.append(event.data.choices[0].delta.content or "")
        return "".join(parts)
    return stream


class FakeDisplay:
    """Stands in for IPython's ``display`` and its handle: counts messages, keeps the last.

    With ``encode`` each message is also JSON-encoded as ipykernel does before
    sending it, the part of a real display's cost that grows with the output.
    """

    def __init__(self, encode: bool = False) -> None:
        self.messages = 0
        self.last: dict[str, str] = {}
        self.encode = encode

    def __call__(self, data: dict[str, str], **kwargs: Any) -> FakeDisplay:
        self.update(data)
        return self

    def update(self, data: dict[str, str], raw: bool = False, **kwargs: Any) -> None:
        self.messages += 1
        self.last = data
        if self.encode:
            json.dumps({"data": data, "metadata": {}, "transient": {}}, ensure_ascii=False).encode()


def through_magic(displays: list[FakeDisplay]) -> Callable[[str, list[dict[str, str]]], str]:
    """What ``%%mistral`` runs: the transport, reply assembly and the live display."""
    from mistral_magic import Conversation
    from mistral_magic.client import MistralClient
    from mistral_magic.exchange import Request, run_turn

    def stream(url: str, messages: list[dict[str, str]]) -> str:
        display = FakeDisplay()
        displays.append(display)
        client = MistralClient(KEY, base_url=url)
        try:
            reply = run_turn(client, Conversation(), Request(messages[-1]["content"], MODEL),
                             LiveMarkdown(display=display))
        finally:
            client.close()
        return reply.text
    return stream


def official_client() -> tuple[Any, str] | None:
    """Mistral's own client class and version, when installed (v1 and v2 layouts)."""
    try:
        from importlib.metadata import version

        try:
            from mistralai.client import Mistral
        except ImportError:
            from mistralai import Mistral  # type: ignore[no-redef]
        return Mistral, version("mistralai")
    except ImportError:
        return None


def cpu_per_chunk(contender: Callable[[str, list[dict[str, str]]], str], url: str,
                  messages: list[dict[str, str]], expected: str, chunks: int) -> float:
    gc.collect()
    started = time.process_time()
    text = contender(url, messages)
    used = time.process_time() - started
    if text != expected:
        raise AssertionError(f"{contender} received {len(text)} characters, not {len(expected)}")
    return used / chunks * 1e6


def throughput(table: Table, size: Size) -> list[FakeDisplay]:
    from mistral_magic import Mistral

    table.section(f"1. client throughput: a {size.chunks:,}-chunk reply from a loopback server, CPU per chunk")
    prompt = echo_prompt(size.chunks)
    messages = [{"role": "user", "content": prompt}]
    displays: list[FakeDisplay] = []
    contenders: dict[str, Callable[[str, list[dict[str, str]]], str]] = {
        "floor: raw httpx, iter_lines, json.loads, join": floor,
        "mistral_magic: Mistral().chat.stream": through_api(Mistral),
        "%%mistral path: run_turn into the live display": through_magic(displays),
    }
    official = official_client()
    if official:
        contenders[f"mistralai {official[1]}: Mistral().chat.stream"] = through_api(official[0])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with loopback_server() as url:
        floor(url, [{"role": "user", "content": "warm up"}])
        for rep in range(size.reps):
            names = list(contenders)
            names = names[rep % len(names):] + names[: rep % len(names)]  # no contender always first
            for name in names:
                if name.startswith("mistralai") and rep >= size.official_reps:
                    continue
                times[name].append(cpu_per_chunk(contenders[name], url, messages, f"Echo: {prompt}",
                                                 size.chunks))
    median = {name: statistics.median(values) for name, values in times.items()}
    base, ours, magic = (median[name] for name in list(contenders)[:3])
    for name in list(contenders)[:3]:
        table.row(name, f"{median[name]:.1f} µs/chunk")
    table.row("mistral_magic / floor", f"{ours / base:.2f}×", "≤ 1.5×", ours / base <= 1.5)
    if official:
        name = list(contenders)[3]
        table.row(name, f"{median[name]:.1f} µs/chunk")
        table.row("mistralai / mistral_magic", f"{median[name] / ours:.1f}×", "≥ 20×", median[name] / ours >= 20)
    else:
        table.row("mistralai / mistral_magic", "not installed", "≥ 20×")
    table.row("%%mistral path / floor", f"{magic / base:.2f}×")
    return displays


# --------------------------------------------------------------------------- 2. render duty cycle


class SimulatedClock:
    """The stream's clock, advanced by the feeder: the render work is real, the waiting is not."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stream_into_display(chunks: list[str], display: FakeDisplay | None = None,
                        rate: float = 100.0) -> tuple[float, FakeDisplay, LiveMarkdown]:
    """Feed ``chunks`` at ``rate`` per simulated second; return the CPU seconds it took."""
    clock, display = SimulatedClock(), display or FakeDisplay()
    live = LiveMarkdown(clock=clock, display=display)
    gc.collect()
    started = time.process_time()
    live.start()
    for chunk in chunks:
        clock.now += 1 / rate
        live.append(chunk)
    live.finish(footer=FOOTER)
    return time.process_time() - started, display, live


class KeepAll(FakeDisplay):
    """A display that keeps every message, to check each one."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []

    def update(self, data: dict[str, str], raw: bool = False, **kwargs: Any) -> None:
        super().update(data)
        self.sent.append(data)


def kilo(n: int) -> str:
    return f"{n / 1000:g}k"


def duty_cycle(table: Table, size: Size) -> None:
    table.section("2. render duty cycle: realistic Markdown into the live display at 100 tokens/s "
                  "(simulated clock)")
    render_html("warm *up*")  # building the parser is load time, measured below
    replies = {n: markdown_reply(n) for n in size.lengths}
    cpu: dict[int, list[float]] = {n: [] for n in size.lengths}
    identical = True
    for _ in range(max(1, size.reps // 2 + 1)):
        for n in size.lengths:
            used, display, _ = stream_into_display(tokens(replies[n]))
            cpu[n].append(used)
            identical &= display.last == bundle(replies[n], footer=FOOTER)
    previous: tuple[int, float] | None = None
    for n in size.lengths:
        used = statistics.median(cpu[n])
        share = used / (len(tokens(replies[n])) / 100)
        table.row(f"{kilo(n)} tokens ({len(replies[n]) / 1000:.0f} kB): render CPU / stream time",
                  f"{share:.2%}", "< 2%", share < 0.02)
        if previous:
            longer = n / previous[0]
            growth = used / previous[1]
            table.row(f"  CPU growth {kilo(previous[0])} → {kilo(n)} tokens ({longer:.0f}× longer)",
                      f"{growth:.2f}×", f"≤ {longer * 1.125:.1f}×", growth <= longer * 1.125)
        previous = (n, used)
    n = size.lengths[-1]
    used, display, _ = stream_into_display(tokens(replies[n]), FakeDisplay(encode=True))
    share = used / (len(tokens(replies[n])) / 100)
    table.row(f"{kilo(n)} tokens, each message JSON-encoded as ipykernel sends it", f"{share:.2%}", "info")
    rate = display.messages / (len(tokens(replies[n])) / 100)
    table.row(f"  updates/s at {kilo(n)} tokens", f"{rate:.1f} /s", "info")
    table.row("final output = bundle(whole reply) rendered at once", "identical" if identical else "DIFFERENT",
              "identical", identical)
    _, kept, _ = stream_into_display(tokens(replies[size.lengths[0]]), KeepAll())
    exact = all(sent == bundle(sent["text/plain"]) for sent in kept.sent[1:-1])
    table.row(f"every update = the text so far rendered whole ({kilo(size.lengths[0])})",
              "identical" if exact else "DIFFERENT", "identical", exact)
    # The worst cases for block-by-block rendering: one block as long as the reply.
    n = size.lengths[-2] if len(size.lengths) > 1 else size.lengths[0]
    for label, text in (("one list", worst_case(n, "{i}. Item {i}: the model says `this` about **cheese**\n")),
                        ("one code block", worst_case(n, "    value_{i} = compute({i}, 'cheese') * 2  # step\n",
                                                      "```python\n"))):
        used, display, _ = stream_into_display(tokens(text))
        share = used / (len(tokens(text)) / 100)
        table.row(f"worst case: {label} {kilo(n)} tokens long, {display.messages / (len(tokens(text)) / 100):.1f} "
                  "updates/s", f"{share:.2%}", "info")


def worst_case(n: int, line: str, head: str = "") -> str:
    """A reply that is one block of about ``n`` tokens."""
    lines, count = [head], len(tokens(head))
    while count < n:
        lines.append(line.format(i=len(lines)))
        count += len(tokens(lines[-1]))
    return "".join(lines)


# --------------------------------------------------------------------------- 3. display traffic


def traffic(table: Table, size: Size, bursts: list[FakeDisplay]) -> None:
    table.section("3. display traffic: messages sent to the frontend")
    burst = statistics.median(display.messages for display in bursts)
    table.row(f"{size.chunks:,}-chunk burst, as fast as the server sends", f"{burst:.0f} messages", "≤ 10",
              burst <= 10)
    chunks = tokens(markdown_reply(size.stream_seconds * 100, seed=5))[: size.stream_seconds * 100]
    _, display, _ = stream_into_display(chunks)
    rate = display.messages / size.stream_seconds
    table.row(f"{size.stream_seconds} s stream at 100 tokens/s", f"{rate:.1f} /s", "≤ 15 /s", rate <= 15)


# --------------------------------------------------------------------------- 4-6. fresh processes


# An installed package has its bytecode compiled, so a probe process may write and read it
# whatever PYTHONDONTWRITEBYTECODE says: without it every load compiles the package afresh.
PROBE_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def probe(name: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(HERE / "probes.py"), name, *args], capture_output=True,
                            text=True, timeout=600, cwd=ROOT, env=PROBE_ENV)
    if result.returncode:
        raise RuntimeError(f"probe {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fresh_processes(table: Table, size: Size) -> None:
    probe("load")  # writes the bytecode, as installing the package does; not counted
    loads = [probe("load") for _ in range(size.probe_reps)]
    load_ms = statistics.median(load["seconds"] for load in loads) * 1000
    load_mb = statistics.median(load["rss"] for load in loads) / 2**20
    heavy = sorted({module for load in loads for module in load["heavy"]})
    table.section("4. load time: %load_ext mistral_magic in a fresh process, over a bare IPython shell")
    table.row("%load_ext mistral_magic", f"{load_ms:.1f} ms", "< 50 ms", load_ms < 50)
    table.row("httpx, markdown_it, ipywidgets imported by it", ", ".join(heavy) or "none", "none", not heavy)

    table.section("5. time to first token: first content byte on loopback → first display update")
    firsts = [probe("first_token", "0.3", str(size.replies)) for _ in range(size.probe_reps)]
    for when in ("cold", "warm"):
        ms = statistics.median(first[when] for first in firsts) * 1000
        label = "first reply in a fresh kernel" if when == "cold" else "next reply"
        table.row(label, f"{ms:.2f} ms", "< 2 ms", ms < 2)

    table.section("6. memory (resident set)")
    table.row("added by %load_ext mistral_magic", f"{load_mb:.1f} MB", "< 15 MB", load_mb < 15)
    with loopback_server() as url:
        memories = [probe("memory", url, str(size.turns), str(size.reply_words)) for _ in range(size.probe_reps)]
    memory = memories[0]
    held = statistics.median(m["held"] / m["held_text"] for m in memories)
    table.row(f"holding {size.turns:,} turns ({memory['held_text'] / 2**20:.1f} MB of text)",
              f"{held:.2f}× the text", "info")
    # Resident memory depends on where the allocator happened to place things: a median, and the range.
    ratios = sorted(m["rss"] / m["text"] for m in memories)
    ratio = statistics.median(ratios)
    table.row(f"  + streaming a {size.reply_words // 1000}k-token reply into it ({memory['text'] / 2**20:.1f} MB)",
              f"{ratio:.2f}× the text", "≤ 3×", ratio <= 3)
    table.row("    lowest – highest of the runs", f"{ratios[0]:.2f}–{ratios[-1]:.2f}×", "info")
    kept = statistics.median(m["kept_per_chunk"] for m in memories)
    table.row("kept per chunk once the reply is done (tracemalloc)", f"{kept:.2f} B", "~0 B", kept < 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (sizes too small to judge)")
    size = QUICK if parser.parse_args(argv).quick else FULL
    print(f"mistral_magic benchmarks ({'quick smoke run: figures not meaningful' if size is QUICK else 'full'}) · "
          f"Python {platform.python_version()} · {platform.system()} · medians of interleaved runs\n")
    table = Table()
    bursts = throughput(table, size)
    duty_cycle(table, size)
    traffic(table, size, bursts)
    fresh_processes(table, size)
    with loopback_server("--chunk-delay", str(LATENCY)) as url:
        mistral = official_client()
        over_throughput(table, url, size.rows, mistral[0] if mistral else None)
    print(f"\n{'all targets met' if not table.failed else 'missed: ' + '; '.join(table.failed)}")
    return 0 if not table.failed or size is QUICK else 1


if __name__ == "__main__":
    sys.exit(main())
