"""The chat panel's logic against the loopback server: set values, click, join, assert.

No kernel and no browser here (widgets work without one); how the panel looks,
scrolls and streams in JupyterLab is tested in test_panel_browser.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest
from IPython.utils.capture import capture_output

from mistral_magic import ChatPanel, ConversationStore, MistralClient, Turn, live, panel_view
from mistral_magic.panel_view import ReplyView

import mistral_server as ms
from helpers import magics_of

pytestmark = pytest.mark.filterwarnings(
    # ipywidgets 7.7.0, the floor, opens comms through ipykernel's deprecated Comm class.
    "ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning")

SLOW = [f"w{i} " for i in range(200)]  # 200 chunks at 50 per second: 4 s unless stopped


@pytest.fixture
def panels(server):
    """Make panels on one store and client; close them all afterwards, even after a failure."""
    made: list[ChatPanel] = []
    store, client = ConversationStore(), MistralClient()

    def make(**kwargs) -> ChatPanel:
        panel = ChatPanel(kwargs.pop("store", store), kwargs.pop("client", client), **kwargs)
        panel.join(10)  # the model list
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()
    client.close()


def send(panel: ChatPanel, text: str, *, wait: bool = True) -> None:
    panel.prompt.value = text
    panel.send_button.click()
    if wait:
        panel.join(10)


def transcript(panel: ChatPanel) -> str:
    """The transcript's HTML in reading order (the box is laid out newest first)."""
    return "".join(widget.value for widget in reversed(panel.transcript.children))


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_send_streams_the_reply_into_the_transcript_and_records_the_turn(panels, server):
    server.enqueue(ms.reply("# Comté\n\nAged **24** months."))
    panel = panels()
    send(panel, "Best *cheese*?")
    shown = transcript(panel)
    assert shown.index("<em>cheese</em>") < shown.index("<h1>Comté</h1>") < shown.index("<strong>24</strong>")
    assert 'class="mistral-user"' in shown and 'class="mistral-assistant"' in shown
    assert [turn.reply for turn in panel.store["default"].turns] == ["# Comté\n\nAged **24** months."]
    assert server.last_body["messages"] == [{"role": "user", "content": "Best *cheese*?"}]
    assert server.last_body["stream"] is True and server.last_body["model"] == "mistral-small-latest"
    assert panel.prompt.value == "" and "out tokens" in panel.status_line.value
    assert not panel.send_button.disabled and panel.stop_button.disabled


def test_thinking_shows_folded_above_the_answer_while_it_streams_and_after(panels, server):
    server.enqueue(ms.reply("Forty-two.", thinking=["Let me", " count."], think_delay=0.2, delay=0.05))
    panel = panels()
    send(panel, "The answer?", wait=False)
    wait_for(lambda: "Thinking…" in transcript(panel))  # live, before the answer begins
    panel.join(10)
    shown = transcript(panel)
    assert re.search(r"<details class=\"mistral-thinking\"><summary[^>]*>Thought for 0\.[2-9] s", shown)
    assert shown.index("Let me count.") < shown.index("Forty-two.")
    assert [turn.reply for turn in panel.store["default"].turns] == ["Forty-two."]


def test_the_settings_shape_the_next_request(panels, server):
    panel = panels()
    panel.system_box.value = "Answer in French."
    panel.model_box.value = "mistral-large-latest"
    panel.temperature_set.value, panel.temperature.value, panel.max_tokens.value = True, 0.2, 50
    send(panel, "Hello")
    body = server.last_body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("mistral-large-latest", 0.2, 50)
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    panel.temperature_set.value, panel.max_tokens.value = False, 0
    send(panel, "Again")
    assert "temperature" not in server.last_body and "max_tokens" not in server.last_body
    assert panel.temperature.disabled


def test_the_model_list_comes_from_the_server(panels):
    panel = panels(model="mistral-tiny")
    assert set(ms.DEFAULT_MODELS) <= set(panel.model_box.options)
    assert panel.model_box.value == "mistral-tiny"


def test_the_model_is_typed_when_the_list_fails(panels, server, monkeypatch):
    monkeypatch.delenv("MISTRAL_API_KEY")
    panel = panels(model="mistral-tiny")
    assert type(panel.model_box).__name__ == "Text" and panel.model_box.value == "mistral-tiny"
    assert "ConfigError: MISTRAL_API_KEY is not set" in panel.status_line.value
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    panel.model_box.value = "codestral-latest"
    send(panel, "Hi")
    assert server.last_body["model"] == "codestral-latest"


def test_a_panel_turn_is_context_for_the_next_cell_and_shows_in_its_history(shell, server):
    panel = shell.run_line_magic("mistral_panel", "-c shared")
    try:
        send(panel, "From the panel")
        with capture_output():
            shell.run_cell("%%mistral -c shared\nFrom a cell").raise_error()
        assert [m["content"] for m in server.last_body["messages"]] == [
            "From the panel", "Echo: From the panel", "From a cell"]
        with capture_output() as captured:
            shell.run_line_magic("mistral_history", "-c shared")
        history = captured.outputs[0].data["text/markdown"]
        assert "(2 turns)" in history and history.index("From the panel") < history.index("From a cell")
        assert "Echo: From a cell" in transcript(panel)
    finally:
        panel.close()


def test_a_cell_turn_shows_in_an_open_panel_and_is_its_context(shell, server):
    panel = shell.run_line_magic("mistral_panel", "")
    try:
        with capture_output():
            shell.run_cell("%%mistral --role system\nBe brief.").raise_error()
            shell.run_cell("%%mistral\nFrom a cell").raise_error()
        assert "Echo: From a cell" in transcript(panel) and panel.system_box.value == "Be brief."
        send(panel, "From the panel")
        assert [m["content"] for m in server.last_body["messages"]] == [
            "Be brief.", "From a cell", "Echo: From a cell", "From the panel"]
    finally:
        panel.close()


def test_the_magic_passes_the_kernels_store_client_and_settings(shell, server):
    shell.run_line_magic("config", "MistralMagics.temperature = 0.4")
    shell.run_line_magic("config", "MistralMagics.stop = ['###']")
    panel = shell.run_line_magic("mistral_panel", "-m mistral-large-latest -c notes")
    made_in_python = ChatPanel(chat="notes")
    try:
        for each, model in ((panel, "mistral-large-latest"), (made_in_python, "mistral-small-latest")):
            assert each.store is magics_of(shell).store and each.client is magics_of(shell).client
            assert each.conversation is magics_of(shell).store["notes"]
            send(each, "Settings?")
            body = server.last_body
            assert (body["model"], body["temperature"], body["stop"]) == (model, 0.4, ["###"])
    finally:
        panel.close()
        made_in_python.close()


def open_widgets() -> int:
    from ipywidgets.widgets import widget

    return len(widget._instances if hasattr(widget, "_instances") else widget.Widget.widgets)


def test_without_the_extension_a_panel_keeps_its_own_store_and_closes_everything(server):
    before = open_widgets()
    panel = ChatPanel()
    panel.join(10)
    send(panel, "Alone")
    send(panel, "Again")
    assert len(panel.store["default"]) == 2 and panel.client.remote._sync is not None
    panel.close()
    assert panel.client.remote._sync is None and open_widgets() == before


def test_stop_ends_the_stream_keeps_the_partial_reply_and_records_nothing(panels, server):
    server.enqueue(ms.reply(chunks=SLOW, delay=0.02))
    panel = panels()
    send(panel, "Tell me everything", wait=False)
    wait_for(lambda: "w5" in transcript(panel))
    worker = panel._last.thread
    started = time.monotonic()
    panel.stop_button.click()
    assert not panel.send_button.disabled and panel.stop_button.disabled  # at once
    worker.join(5)
    latency = time.monotonic() - started
    assert not worker.is_alive() and latency < 0.25, latency
    shown = transcript(panel)
    assert "w4" in shown and "w199" not in shown
    assert "stopped: nothing was added to &#x27;default&#x27;" in shown
    assert "Stopped" in panel.status_line.value
    assert len(panel.store["default"]) == 0 and panel.prompt.value == "Tell me everything"
    send(panel, "Short, please")
    assert len(panel.store["default"]) == 1 and "w4" not in transcript(panel)


def test_stop_during_a_stall_frees_the_panel_at_once_and_records_nothing(panels, server):
    server.enqueue(ms.stall(1.0, after_chunks=2))
    panel = panels()
    send(panel, "Hello?", wait=False)
    wait_for(lambda: "partial" in transcript(panel))
    worker = panel._last.thread
    panel.stop_button.click()
    assert not panel.send_button.disabled and "Stopped" in panel.status_line.value
    worker.join(5)
    assert "stopped: nothing" in transcript(panel) and "failed" not in transcript(panel)
    assert len(panel.store["default"]) == 0


def test_a_failed_send_shows_one_line_and_keeps_the_input(panels, server):
    server.enqueue(ms.unauthorized())
    panel = panels()
    send(panel, "Keep me")
    assert "APIStatusError: Mistral API answered 401 Unauthorized" in panel.status_line.value
    assert "\n" not in panel.status_line.value
    assert panel.prompt.value == "Keep me" and not panel.send_button.disabled
    assert "failed: nothing was added" in transcript(panel) and len(panel.store["default"]) == 0
    panel.send_button.click()
    panel.join(10)
    assert [turn.reply for turn in panel.store["default"].turns] == ["Echo: Keep me"]


def test_a_send_while_the_input_was_edited_keeps_the_new_text(panels, server):
    server.enqueue(ms.reply(chunks=SLOW[:20], delay=0.01), ms.server_error(400))
    panel = panels()
    send(panel, "First")
    send(panel, "Second", wait=False)
    panel.prompt.value = "Third, typed meanwhile"
    panel.join(10)
    assert panel.prompt.value == "Third, typed meanwhile"


def test_two_panels_on_one_conversation_stay_in_step(panels, server):
    first, second = panels(), panels()
    send(first, "Hello from the first")
    assert "Echo: Hello from the first" in transcript(second)
    second.system_box.value = "Be brief."
    assert first.system_box.value == "Be brief." and first.store["default"].system == "Be brief."
    second.clear_button.click()
    assert first.transcript.children == () and first.system_box.value == "Be brief."


def test_a_cell_and_the_panel_finishing_together_both_record_their_turns(shell, server):
    server.enqueue(ms.reply(delay=0.01), ms.reply(delay=0.01))
    panel = shell.run_line_magic("mistral_panel", "")
    try:
        send(panel, " ".join(f"panel{i}" for i in range(30)), wait=False)
        with capture_output():
            shell.run_cell("%%mistral\n" + " ".join(f"cell{i}" for i in range(30))).raise_error()
        panel.join(10)
        replies = {turn.reply.split()[1] for turn in magics_of(shell).store["default"].turns}
        assert replies == {"panel0", "cell0"}
        assert "Echo: panel0" in transcript(panel) and "Echo: cell0" in transcript(panel)
    finally:
        panel.close()


def test_other_cells_run_while_the_panel_streams(shell, server):
    server.enqueue(ms.reply(chunks=SLOW[:30], delay=0.02))
    panel = shell.run_line_magic("mistral_panel", "")
    try:
        send(panel, "Take your time", wait=False)
        started = time.monotonic()
        shell.run_cell("answer = 6 * 7").raise_error()
        assert shell.user_ns["answer"] == 42 and time.monotonic() - started < 0.5
        assert panel._last.thread.is_alive()
        panel.join(10)
        assert len(magics_of(shell).store["default"]) == 1
    finally:
        panel.close()


def test_switching_conversations_shows_their_turns_and_sends_there(panels, server):
    panel = panels()
    panel.store["notes"].commit(Turn([{"role": "user", "content": "Noted?"},
                                      {"role": "assistant", "content": "Noted."}]))
    panel.conversation_box.value = "notes"
    assert "Noted." in transcript(panel)
    send(panel, "More")
    assert len(panel.store["notes"]) == 2 and len(panel.store["default"]) == 0
    panel.conversation_box.value = "fresh"
    assert panel.transcript.children == () and "fresh" in panel.conversation_box.options


def test_updates_are_throttled_at_100_tokens_per_second(panels, server):
    server.enqueue(ms.reply(chunks=[f"t{i} " for i in range(150)], delay=0.01))
    panel = panels()
    started = time.monotonic()
    send(panel, "Stream")
    elapsed = time.monotonic() - started
    view = panel._last.view
    assert view.tokens == 150
    # One update per interval while streaming, plus waiting, the first chunk and the end.
    assert view.updates <= elapsed / panel.interval + 3, (view.updates, elapsed)
    assert view.updates >= 5


def test_the_throttle_follows_the_clock(monkeypatch):
    monkeypatch.setattr(live, "_SLOWDOWN", 0)  # a draw slowed by a busy machine must not skip a tick here
    now = [0.0]
    view = ReplyView(lambda text: None, interval=0.1, clock=lambda: now[0])
    view.start()
    for _ in range(100):  # 100 tokens per second for one second
        view.append("x ")
        now[0] += 0.01
    view.finish(footer="done")
    assert view.tokens == 100 and view.updates == 1 + 10 + 1
    view.widget.close()


def test_a_long_conversation_does_not_re_render_earlier_turns(panels, server, monkeypatch):
    store = ConversationStore()
    for number in range(30):
        store["default"].commit(Turn([{"role": "user", "content": f"q{number}"},
                                      {"role": "assistant", "content": f"a{number}"}]))
    panel = panels(store=store)
    earlier = list(panel.transcript.children)
    changes = []
    for widget in earlier:
        widget.observe(changes.append, "value")
    rendered = []
    monkeypatch.setattr(panel_view, "render_html", lambda text: rendered.append(text) or text)
    server.enqueue(ms.reply(chunks=[f"t{i} " for i in range(100)], delay=0.002))
    send(panel, "One more")
    assert changes == [] and set(earlier) < set(panel.transcript.children)
    assert rendered == ["One more", "One more", "t0 " + "".join(f"t{i} " for i in range(1, 100))]


def test_close_releases_the_worker_the_observer_and_the_widgets(panels, server):
    server.enqueue(ms.reply(chunks=SLOW, delay=0.02))
    panel = panels()
    conversation = panel.conversation
    send(panel, "Long one", wait=False)
    wait_for(lambda: "w2" in transcript(panel))
    worker = panel._last.thread
    threads = threading.active_count()
    panel.close()
    assert not worker.is_alive() and threading.active_count() < threads
    assert conversation._observers == [] and len(conversation) == 0
    assert all(widget.comm is None for widget in (panel, panel.layout, panel.prompt, panel.prompt.layout,
                                                  panel.send_button.style, panel.transcript, panel.temperature))
    conversation.commit(Turn([{"role": "user", "content": "after"}, {"role": "assistant", "content": "x"}]))


def test_the_panel_loads_only_when_asked():
    code = ("import sys, mistral_magic; from IPython.testing.globalipapp import start_ipython; "
            "start_ipython().extension_manager.load_extension('mistral_magic'); "
            "assert 'ipywidgets' not in sys.modules and 'mistral_magic.panel' not in sys.modules; "
            "assert mistral_magic.ChatPanel.__module__ == 'mistral_magic.panel'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_open_panel_follows_later_settings(shell, server, monkeypatch):
    panel = shell.run_line_magic("mistral_panel", "")
    try:
        send(panel, "Before")
        monkeypatch.setenv("OTHER_KEY", "not-the-key")
        shell.run_line_magic("config", "MistralMagics.api_key_env = 'OTHER_KEY'")
        send(panel, "After")
        assert "401 Unauthorized" in panel.status_line.value and "OTHER_KEY" in panel.status_line.value
        assert panel.prompt.value == "After" and len(panel.conversation) == 1
    finally:
        panel.close()


def test_a_tool_turn_shows_its_calls_as_a_cell_does(shell, server):
    shell.run_cell("def double(n: int) -> int:\n    'Double n.'\n    return 2 * n").raise_error()
    panel = shell.run_line_magic("mistral_panel", "")
    try:
        server.enqueue(ms.reply(tool_calls=[{"id": "call00001", "function": {"name": "double",
                                                                            "arguments": {"n": 21}}}]),
                       ms.reply("It is 42."))
        with capture_output():
            shell.run_cell("%%mistral --tools double\nDouble 21?").raise_error()
        shown = transcript(panel)
        assert "🔧 <code>double(n=21)</code> → <code>42</code>" in shown and "It is 42." in shown
        assert shown.count('class="mistral-assistant"') == 1
    finally:
        panel.close()


def test_stop_ends_a_reply_from_a_silent_server_at_once(panels, server):
    server.enqueue(ms.stall(30, after_chunks=1))
    panel = panels()
    send(panel, "Think hard", wait=False)
    wait_for(lambda: panel._last.view.tokens >= 1)
    panel.stop_button.click()
    worker = panel._last.thread
    worker.join(5)  # the server stays silent for 30 s: only the cut ends the read sooner
    assert not worker.is_alive() and "stopped" in transcript(panel)
    assert "Stopped: nothing was added" in panel.status_line.value
    assert len(panel.conversation) == 0 and panel.prompt.value == "Think hard"
    send(panel, "Again")
    assert [turn.prompt for turn in panel.conversation.turns] == ["Again"]
