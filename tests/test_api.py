"""The Python API shaped like Mistral's client, including its documentation's examples."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mistral_magic import APIStatusError, Mistral

import mistral_server as ms

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed-text-generation.txt"


def seed_examples() -> dict[str, str]:
    """The three Python examples of Mistral's text-generation page, by heading."""
    if not SEED.exists():
        pytest.skip("the seed documentation page is not beside this checkout")
    text = SEED.read_text()
    headings = ["No streaming", "With streaming", "With async", "Chat messages"]
    return {
        heading: text.split(f"\n{heading}\n", 1)[1].split(f"\n{following}\n", 1)[0]
        for heading, following in zip(headings, headings[1:])
    }


@pytest.mark.parametrize("heading, expected", [
    ("No streaming", "Echo: What is the best French cheese?\n"),
    ("With streaming", "\nEcho: \nWhat \nis \nthe \nbest \nFrench \ncheese?\n"),
    ("With async", "Echo: Who is the best French painter? Answer in JSON."),
])
def test_documentation_examples_run_with_only_the_import_changed(server, heading, expected):
    source = seed_examples()[heading]
    changed = source.replace("from mistralai import Mistral", "from mistral_magic import Mistral")
    assert changed.count("mistral_magic") == 1
    done = subprocess.run([sys.executable, "-c", changed], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert server.last_body["model"] in ("mistral-large-latest", "mistral-tiny")


def test_complete_returns_message_and_usage(server):
    with Mistral(api_key="test-key", server_url=server.url) as client:
        response = client.chat.complete(model="mistral-small-latest", temperature=0,
                                        messages=[{"role": "user", "content": "Hi"}])
    assert response.choices[0].message.content == "Echo: Hi"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 1 and response.usage.total_tokens > 1
    assert server.last_body["temperature"] == 0


def test_stream_is_a_context_manager_that_closes_the_connection(server):
    server.enqueue(ms.stall(10, after_chunks=2))
    with Mistral(api_key="test-key", server_url=server.url) as client, \
            client.chat.stream(model="mistral-small-latest", messages=[{"role": "user", "content": "Hi"}]) as events:
        first = next(iter(events))
    assert first.data.choices[0].delta.role == "assistant"


def test_async_complete_and_errors(server):
    client = Mistral(api_key="wrong", server_url=server.url)

    async def run():
        return await client.chat.complete_async(model="mistral-small-latest",
                                                messages=[{"role": "user", "content": "Hi"}])

    with pytest.raises(APIStatusError, match="401"):
        asyncio.run(run())


def test_repr_hides_the_key(server):
    client = Mistral(api_key="sk-secret-value", server_url=server.url)
    assert "sk-secret" not in repr(client) + repr(client.chat.__dict__)
    assert re.fullmatch(r"Mistral\(server_url='http://127\.0\.0\.1:\d+'\)", repr(client))


def test_models_list(server):
    with Mistral(api_key="test-key", server_url=server.url) as client:
        assert "codestral-latest" in [card.id for card in client.models.list().data]
