"""Soak: many turns and many concurrent streams leak nothing. Not in the default run:

    python -m pytest -m soak -s tests/test_soak.py

It prints its figures; the assertions hold them to flat fds, threads and memory.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from mistral_magic import Mistral

from helpers import magics_of

pytestmark = pytest.mark.soak
TESTS = Path(__file__).resolve().parent  # `python -m mistral_server` runs from here


def resources() -> dict[str, float]:
    gc.collect()
    status = Path("/proc/self/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
            "rss_mb": rss_kb / 1024}


@pytest.fixture
def server_url(monkeypatch):
    """The loopback server in its own process, so only the client is measured here."""
    process = subprocess.Popen([sys.executable, "-m", "mistral_server", "--port", "0"], cwd=TESTS,
                               stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().split()[1]
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    monkeypatch.setenv("MISTRAL_BASE_URL", url)
    yield url
    process.kill()
    process.wait()
    process.stdout.close()


def test_a_thousand_sequential_turns(shell, server_url):
    shell.run_line_magic("config", f"MistralMagics.base_url = {server_url!r}")
    started, marks = time.perf_counter(), {}
    for turn in range(1, 1001):
        with capture_output():
            result = shell.run_cell(f"%%mistral -c chat{turn % 10}\nTurn number {turn}: tell me something.")
        result.raise_error()
        if turn in (100, 1000):
            marks[turn] = resources()
    elapsed = time.perf_counter() - started
    store = magics_of(shell).store
    print(f"\n1,000 turns in {elapsed:.1f} s ({1000 / elapsed:.0f} turns/s); after 100 → 1,000 turns: "
          f"fds {marks[100]['fds']} → {marks[1000]['fds']}, threads {marks[100]['threads']} → "
          f"{marks[1000]['threads']}, RSS {marks[100]['rss_mb']:.1f} → {marks[1000]['rss_mb']:.1f} MB")
    assert sum(len(store[name]) for name in store) == 1000
    assert marks[1000]["fds"] <= marks[100]["fds"] and marks[1000]["threads"] <= marks[100]["threads"]
    assert marks[1000]["rss_mb"] - marks[100]["rss_mb"] < 20


def test_two_hundred_concurrent_async_streams(server_url):
    client = Mistral(api_key="test-key", server_url=server_url)

    async def one(number: int) -> str:
        stream = await client.chat.stream_async(
            model="mistral-small-latest", messages=[{"role": "user", "content": f"stream {number}"}])
        return "".join([event.data.choices[0].delta.content or "" async for event in stream])

    async def all_of_them() -> list[str]:
        return await asyncio.gather(*(one(number) for number in range(200)))

    asyncio.run(all_of_them())  # warm up imports and caches
    before = resources()
    started = time.perf_counter()
    for _ in range(3):
        texts = asyncio.run(all_of_them())
        assert texts == [f"Echo: stream {number}" for number in range(200)]
    elapsed = time.perf_counter() - started
    after = resources()
    print(f"\n3 × 200 concurrent streams in {elapsed:.1f} s; fds {before['fds']} → {after['fds']}, "
          f"threads {before['threads']} → {after['threads']}, "
          f"RSS {before['rss_mb']:.1f} → {after['rss_mb']:.1f} MB")
    assert after["fds"] <= before["fds"] and after["threads"] <= before["threads"]
    assert after["rss_mb"] - before["rss_mb"] < 20
