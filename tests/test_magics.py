"""%%mistral and its companions in a real IPython shell against the loopback server."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from mistral_magic.magic_options import parse_line
from mistral_magic.magics import MistralMagics

import mistral_server as ms
from helpers import final_html, history, magics_of, run, run_failing


def test_reply_streams_into_one_display_updated_in_place(shell, server):
    server.enqueue(ms.reply("# Cheese\n\n| name | region |\n|---|---|\n| Comté | Jura |\n\n"
                            "```python\nprint('hi')\n```\n\nSee `brie` and https://example.com"))
    captured = run(shell, "%%mistral -m mistral-small-latest\nWhat is the best French cheese?")
    first, *updates = captured.outputs
    assert "waiting for model" in first.data["text/plain"] and not first.update
    ids = {output.transient["display_id"] for output in captured.outputs}
    assert len(ids) == 1 and all(output.update for output in updates)
    html = final_html(captured)
    for tag in ("<h1>Cheese</h1>", "<table>", '<code class="language-python">', "<code>brie</code>",
                '<a href="https://example.com"'):
        assert tag in html
    assert set(updates[-1].data) == {"text/html", "text/markdown", "text/plain"}
    assert updates[-1].data["text/plain"].startswith("# Cheese")
    assert "mistral-small-latest · " in html and " out tokens · first token " in html


def test_fast_stream_sends_few_display_messages(shell, server):
    server.enqueue(ms.reply(chunks=[f"w{i} " for i in range(2000)]))
    captured = run(shell, "%%mistral\ngo")
    assert len(captured.outputs) <= 6
    assert "w1999" in final_html(captured)


def test_next_cell_continues_the_conversation(shell, server):
    run(shell, "%%mistral\nFirst question", cell_id="c1")
    run(shell, "%%mistral\nSecond question", cell_id="c2")
    assert [m["content"] for m in server.last_body["messages"]] == [
        "First question", "Echo: First question", "Second question"]


def test_rerunning_a_cell_replaces_its_turn_and_sends_only_what_came_before(shell, server):
    run(shell, "%%mistral\nOne", cell_id="c1")
    run(shell, "%%mistral\nTwo", cell_id="c2")
    run(shell, "%%mistral\nOne again", cell_id="c1")
    assert [m["content"] for m in server.last_body["messages"]] == ["One again"]
    assert history(shell) == ["One again", "Echo: One again", "Two", "Echo: Two"]


def test_without_cell_ids_turns_append(shell, server):
    run(shell, "%%mistral\nSame")
    run(shell, "%%mistral\nSame")
    assert len(history(shell)) == 4


def test_system_role_sets_the_system_message_and_sends_nothing(shell, server):
    captured = run(shell, "%%mistral --role system\nAnswer in French.", cell_id="s")
    assert server.requests == [] and "System message of 'default' set" in captured.stdout
    run(shell, "%%mistral\nHello", cell_id="c1")
    assert server.last_body["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_named_conversations_are_separate(shell, server):
    run(shell, "%%mistral -c a\nFor a")
    run(shell, "%%mistral --chat b\nFor b")
    assert [m["content"] for m in server.last_body["messages"]] == ["For b"]
    assert history(shell, "a") == ["For a", "Echo: For a"]


def test_every_api_parameter_reaches_the_request(shell, server):
    run(shell, '%%mistral -m mistral-large-latest -t 0 --top-p 0.9 --max-tokens 50 --random-seed 0 '
               '--presence-penalty 0 --frequency-penalty -0.5 --stop "THE END" --stop STOP '
               "--safe-prompt --json\nReply in JSON")
    body = server.last_body
    assert {key: body[key] for key in body if key not in ("messages",)} == {
        "model": "mistral-large-latest", "temperature": 0.0, "top_p": 0.9, "max_tokens": 50,
        "random_seed": 0, "presence_penalty": 0.0, "frequency_penalty": -0.5,
        "stop": ["THE END", "STOP"], "safe_prompt": True,
        "response_format": {"type": "json_object"}, "stream": True}


def test_unset_parameters_are_not_sent_and_traits_supply_defaults(shell, server):
    run(shell, "%%mistral\nhi")
    assert set(server.last_body) == {"model", "messages", "stream"}
    shell.run_line_magic("config", "MistralMagics.temperature = 0.3")
    shell.run_line_magic("config", "MistralMagics.model = 'codestral-latest'")
    run(shell, "%%mistral -t 0.7\nhi")
    assert (server.last_body["model"], server.last_body["temperature"]) == ("codestral-latest", 0.7)


def test_braces_and_dollars_in_options_stay_literal(shell, server):
    shell.user_ns["x"] = "EXPANDED"
    run(shell, "%%mistral --stop '{x}' --stop $x\nhi {x}")
    assert server.last_body["stop"] == ["{x}", "$x"]
    assert server.last_body["messages"][-1]["content"] == "hi {x}"


@pytest.mark.parametrize("line, words", [
    ("--bogus", "unrecognized arguments: --bogus"),
    ("-t 9", "-t/--temperature: 9 is outside the allowed range 0 to 1.5"),
    ("--max-tokens lots", "'lots' is not a whole number"),
    ("--stop 'unclosed", "check the quotes"),
    ("--role admin", "invalid choice: 'admin'"),
])
def test_bad_options_are_one_line_usage_errors_before_any_request(shell, server, line, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)").replace("/", ".")):
        shell.run_cell_magic("mistral", line, "hi")
    assert server.requests == []


def test_empty_cell_is_a_usage_error(shell, server):
    with pytest.raises(UsageError, match="the cell is empty"):
        shell.run_cell_magic("mistral", "", "  \n")


def test_prefix_starts_the_reply_exactly_once(shell, server):
    run(shell, "%%mistral --prefix 'Once upon'\nTell a story", cell_id="c1")
    assert server.last_body["messages"][-1] == {"role": "assistant", "content": "Once upon", "prefix": True}
    assert history(shell)[-1] == "Once upon continued."
    server.enqueue(ms.reply(" a time."))  # a server that does not repeat the prefix
    captured = run(shell, "%%mistral --prefix 'Once upon'\nTell a story", cell_id="c1")
    assert history(shell)[-1] == "Once upon a time."
    assert captured.outputs[-1].data["text/markdown"].startswith("Once upon a time.")


def test_new_starts_afresh_and_keeps_the_system_message(shell, server):
    run(shell, "%%mistral --role system\nBe brief.")
    run(shell, "%%mistral\nold")
    run(shell, "%%mistral --new\nfresh")
    assert history(shell) == ["Be brief.", "fresh", "Echo: fresh"]


def test_once_sends_only_the_cell_and_records_nothing(shell, server):
    run(shell, "%%mistral --role system\nBe brief.")
    run(shell, "%%mistral\nkept")
    run(shell, "%%mistral --once\naside")
    assert [m["content"] for m in server.last_body["messages"]] == ["Be brief.", "aside"]
    assert history(shell) == ["Be brief.", "kept", "Echo: kept"]


def test_no_stream_asks_for_one_json_reply(shell, server):
    captured = run(shell, "%%mistral --no-stream\nWhole please")
    assert server.last_body["stream"] is False
    assert "Echo: Whole please" in final_html(captured)
    assert history(shell)[-1] == "Echo: Whole please"


def test_out_stores_text_or_parsed_json(shell, server):
    run(shell, "%%mistral -o answer\nplain")
    assert shell.user_ns["answer"] == "Echo: plain"
    run(shell, "%%mistral --json --out data\nReply in JSON")
    assert shell.user_ns["data"] == {"echo": "Reply in JSON"}


def test_history_undo_and_reset(shell, server):
    run(shell, "%%mistral\nfirst")
    run(shell, "%%mistral\nsecond")
    captured = run(shell, "%mistral_history")
    assert "[2] user" in captured.outputs[0].data["text/markdown"]
    captured = run(shell, "%mistral_undo")
    assert "Dropped turn 2 of 'default': 'second' (1 left)" in captured.stdout
    assert history(shell) == ["first", "Echo: first"]
    captured = run(shell, "%mistral_reset")
    assert "cleared (1 turn dropped)" in captured.stdout and history(shell) == []
    with pytest.raises(UsageError, match="no conversation named 'nope'"):
        shell.run_line_magic("mistral_history", "-c nope")


def test_models_lists_what_the_key_can_use(shell, server):
    captured = run(shell, "%mistral_models")
    assert "| mistral-large-latest |" in captured.outputs[0].data["text/markdown"]
    assert server.requests[-1].path == "/v1/models"


def test_terminal_output_prints_text_as_it_arrives(shell, server):
    shell.run_line_magic("config", "MistralMagics.output = 'text'")
    captured = run(shell, "%%mistral\nplain terminal")
    assert captured.stdout.startswith("Echo: plain terminal\n")
    assert "— mistral-small-latest" in captured.stdout and captured.outputs == []


def test_base_url_from_environment_and_config(shell, server, monkeypatch):
    magics = magics_of(shell)
    assert magics.base_url == server.url
    shell.run_line_magic("config", f"MistralMagics.base_url = '{server.url}/v1'")
    run(shell, "%%mistral\nvia /v1")
    assert server.requests[-1].path == "/v1/chat/completions"


def test_the_key_never_appears_in_outputs(shell, server, monkeypatch):
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-very-secret-0123456789")
    captured, error = run_failing(shell, "%%mistral\nhi")
    with capture_output() as more:
        shell.run_line_magic("config", "MistralMagics")
        shell.run_line_magic("mistral_history", "")
        shell.showtraceback()
    seen = captured.stdout + more.stdout + repr(captured.outputs) + repr(more.outputs) + str(error)
    seen += repr(magics_of(shell).client)
    assert "sk-very-secret" not in seen


@given(st.text(max_size=80) | st.lists(st.sampled_from(
    ["-m", "x", "-t", "0.5", "-t", "9", "--stop", '"A B"', "'", '"', "--json", "--role", "system", "-c",
     "--max-tokens", "-1", "--out", "--prefix", "--", "-", "=", "--top-p=0.2"]), max_size=8).map(" ".join))
def test_any_option_line_parses_or_is_a_usage_error(line):
    with contextlib.suppress(UsageError):
        parse_line(MistralMagics.mistral, line)
