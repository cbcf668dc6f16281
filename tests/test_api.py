"""The Python API shaped like Mistral's client, including its documentation's examples."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mistral_magic import APIStatusError, Mistral

import mistral_server as ms
from helpers import OFFICIAL_CLIENT

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed-text-generation.txt"


def seed_examples() -> dict[str, str]:
    """The three Python examples of Mistral's text-generation page, by heading."""
    if not SEED.exists():
        pytest.skip(f"reads Mistral's documentation page {SEED}, which is not there: it sits beside a checkout "
                    "of this repository in the workspace it was made in, not in the repository itself")
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


HI = [{"role": "user", "content": "Hi"}]


def test_a_call_option_applies_to_that_call_only(server):
    from mistral_magic import APITimeoutError

    server.enqueue(ms.reply("slow", delay=2))
    with Mistral(api_key="test-key", server_url=server.url) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.chat.complete(model="mistral-small-latest", messages=HI, timeout_ms=300)
        assert time.monotonic() - started < 1.5
        server.enqueue(ms.reply("slow", delay=0.5))
        assert client.chat.complete(model="mistral-small-latest", messages=HI).choices[0].message.content == "slow"


def test_a_call_can_go_to_another_server(server):
    with Mistral(api_key="test-key", server_url="http://127.0.0.1:9") as client:  # nothing listens there
        reply = client.chat.complete(model="mistral-small-latest", messages=HI, server_url=server.url)
    assert reply.choices[0].message.content == "Echo: Hi"


def test_the_official_retry_config_is_followed():
    utils = pytest.importorskip("mistralai.client.utils", reason=OFFICIAL_CLIENT)
    from mistral_magic.api import retry_policy

    policy = retry_policy(utils.RetryConfig("backoff", utils.BackoffStrategy(10, 200, 1.5, 1_000), False))
    assert (policy.initial, policy.cap, policy.exponent, policy.max_total) == (0.01, 0.2, 1.5, 1.0)
    assert retry_policy(utils.RetryConfig("none", utils.BackoffStrategy(10, 200, 1.5, 1_000), False)).retries == 0
    assert retry_policy(None) is None


def test_retries_per_call_and_none_at_all(server):
    utils = pytest.importorskip("mistralai.client.utils", reason=OFFICIAL_CLIENT)
    patient = utils.RetryConfig("backoff", utils.BackoffStrategy(10, 50, 1.5, 5_000), False)
    with Mistral(api_key="test-key", server_url=server.url) as client:
        server.enqueue(ms.server_error(503), ms.server_error(503))
        reply = client.chat.complete(model="mistral-small-latest", messages=HI, retries=patient)
        assert reply.choices[0].message.content == "Echo: Hi"
        server.enqueue(ms.server_error(503))
        with pytest.raises(APIStatusError, match="503"):
            client.chat.complete(model="mistral-small-latest", messages=HI,
                                 retries=utils.RetryConfig("none", utils.BackoffStrategy(10, 50, 1.5, 5_000), False))


def test_named_servers_and_unknown_ones():
    from mistral_magic import ConfigError

    assert repr(Mistral(api_key="k", server="eu")) == "Mistral(server_url='https://api.mistral.ai')"
    with pytest.raises(ConfigError, match="unknown server 'us': use 'eu' or server_url"):
        Mistral(api_key="k", server="us")


def test_models_retrieve_list_async_and_async_with(server):
    from mistral_magic import APIStatusError

    async def run():
        async with Mistral(api_key="test-key", server_url=server.url) as client:
            listed = await client.models.list_async()
            card = await client.models.retrieve_async(model_id="codestral-latest")
            return listed, card

    listed, card = asyncio.run(run())
    assert card.id == "codestral-latest" and card.capabilities.completion_chat is True
    assert card.id in [model.id for model in listed.data]
    with Mistral(api_key="test-key", server_url=server.url) as client:
        with pytest.raises(APIStatusError, match="404 Not Found: Model mistral-huge not found"):
            client.models.retrieve(model_id="mistral-huge")
        with pytest.raises(TypeError, match="unexpected keyword argument 'page'"):
            client.models.list(page=2)


def test_a_response_reads_as_the_clients_models_do(server):
    server.enqueue(ms.reply(tool_calls=[{"id": "call00001", "function": {"name": "f", "arguments": {}}}]))
    with Mistral(api_key="test-key", server_url=server.url) as client:
        reply = client.chat.complete(model="mistral-small-latest", messages=HI)
    with pytest.raises(AttributeError, match="did you mean 'message'"):
        reply.choices[0].mesage  # noqa: B018
    assert reply.choices[0].message.tool_calls[0].type == "function" and reply.choices[0].message.prefix is False
    assert reply.model_dump()["choices"][0]["message"]["tool_calls"][0]["id"] == "call00001"
    assert repr(reply).startswith("ChatCompletionResponse(id=")
