"""``--over`` throughput and cost, against a hand-written asyncio loop and Mistral's own async client.

Every contender labels the same rows against the loopback server, which
answers each request after 20 ms, with the same number of requests in flight;
they run one after the other, at each concurrency, and rows per second are
compared side by side.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from typing import Any, Callable

from mistral_magic.client import MistralClient
from mistral_magic.dataset import Answer, Rows, answers_over, row_body

from probes import KEY, MODEL

CHAT = "/v1/chat/completions"
LATENCY = 0.02  # seconds the server takes over each request


def prompts(count: int) -> list[str]:
    return [f"Label review {i}: the blender is fine" for i in range(count)]


def ours(url: str, rows: list[str], concurrency: int) -> int:
    """``answers_over`` through the package's client, as ``%%mistral --over`` runs it; rows answered."""
    client = MistralClient(api_key=KEY, base_url=url)
    try:
        answers, _ = answers_over(client, Rows(rows), row_body(MODEL, None, {}), "{item}",
                                  concurrency=concurrency, cache={})
    finally:
        client.close()
    return sum(answer.error is None for answer in answers)


def hand_written(url: str, rows: list[str], concurrency: int) -> int:
    """What a careful user writes: one pooled ``httpx.AsyncClient`` and a semaphore."""
    import httpx

    async def run() -> int:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        semaphore = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60,
                                     headers={"Authorization": f"Bearer {KEY}"}) as http:
            async def one(prompt: str) -> bool:
                async with semaphore:
                    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": False}
                    response = await http.post(CHAT, json=body)
                    return bool(response.json()["choices"][0]["message"]["content"])
            return sum(await asyncio.gather(*(one(prompt) for prompt in rows)))
    return asyncio.run(run())


def official(mistral: Any) -> Callable[[str, list[str], int], int]:
    """Mistral's client, ``chat.complete_async`` under a semaphore."""
    def label(url: str, rows: list[str], concurrency: int) -> int:
        return asyncio.run(run(url, rows, concurrency))

    async def run(url: str, rows: list[str], concurrency: int) -> int:
        semaphore = asyncio.Semaphore(concurrency)
        async with mistral(api_key=KEY, server_url=url) as client:
            async def one(prompt: str) -> bool:
                async with semaphore:
                    response = await client.chat.complete_async(
                        model=MODEL, messages=[{"role": "user", "content": prompt}])
                    return bool(response.choices[0].message.content)
            return sum(await asyncio.gather(*(one(prompt) for prompt in rows)))
    return label


def rows_per_second(contender: Callable[[str, list[str], int], int], url: str, rows: list[str],
                    concurrency: int) -> float:
    started = time.perf_counter()
    answered = contender(url, rows, concurrency)
    elapsed = time.perf_counter() - started
    if answered != len(rows):
        raise RuntimeError(f"{contender.__name__} answered {answered} of {len(rows)} rows")
    return len(rows) / elapsed


def memory_per_row(url: str, rows: list[str]) -> float:
    """Bytes the kernel keeps per row once the run is done, beyond the answers' text."""
    client = MistralClient(api_key=KEY, base_url=url)
    cache: dict[bytes, Answer] = {}
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    answers, _ = answers_over(client, Rows(rows), row_body(MODEL, None, {}), "{item}", concurrency=32, cache=cache)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    client.close()
    text = sum(len(answer.text or "") + 49 for answer in answers)  # each answer's str object
    return (kept - text) / len(rows)


class Count:
    """A progress surface that counts its updates."""

    def __init__(self) -> None:
        self.updates = 0

    def show(self, line: str, done: int, total: int) -> None:
        self.updates += 1

    def close(self, line: str) -> None:
        self.updates += 1


def progress_rate(url: str, rows: list[str]) -> float:
    """Progress updates per second over a run, beyond the first and the last."""
    client = MistralClient(api_key=KEY, base_url=url)
    progress = Count()
    started = time.perf_counter()
    answers_over(client, Rows(rows), row_body(MODEL, None, {}), "{item}", concurrency=8, cache={},
                 progress=progress)
    client.close()
    return (progress.updates - 2) / (time.perf_counter() - started)


def over_throughput(table: Any, url: str, count: int, mistral: Any) -> None:
    """Section 7; ``mistral`` is Mistral's client class, or None when it is not installed."""
    rows = prompts(count)
    table.section(f"7. --over: {count:,} rows, the server answering each after {LATENCY * 1000:.0f} ms, rows/s")
    for concurrency in (8, 32):
        ours_rate = rows_per_second(ours, url, rows, concurrency)
        hand_rate = rows_per_second(hand_written, url, rows, concurrency)
        table.row(f"concurrency {concurrency}: mistral_magic / asyncio + httpx loop",
                  f"{ours_rate:.0f} / {hand_rate:.0f}", "info")
        table.row(f"concurrency {concurrency}: mistral_magic / the loop", f"{ours_rate / hand_rate:.2f}×",
                  "≥ 0.9×", ours_rate / hand_rate >= 0.9)
        if mistral is None:
            table.row(f"concurrency {concurrency}: mistralai async (reference)", "not installed", "info")
        else:
            official_rate = rows_per_second(official(mistral), url, rows, concurrency)
            table.row(f"concurrency {concurrency}: mistralai async (reference)", f"{official_rate:.0f}", "info")
    per_row = memory_per_row(url, rows)
    table.row("kernel memory kept per row, beyond the answer's text", f"{per_row:,.0f} B", "≤ 2 KB", per_row <= 2048)
    rate = progress_rate(url, rows)
    table.row("progress updates per second", f"{rate:.1f} /s", "≤ 10 /s", rate <= 10)
