"""Conversations you can keep: save, load, export, fork, list, count; metadata on every reply."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from helpers import magics_of, run


def store(shell):
    return magics_of(shell).store


def contents(shell, chat="default") -> list[str]:
    return [m["content"] for m in store(shell)[chat].messages()]


@pytest.fixture
def chatted(shell, server):
    """A conversation with a system message and two turns."""
    run(shell, "%%mistral --role system\nBe brief.")
    run(shell, "%%mistral -t 0.2 --max-tokens 50\nFirst", cell_id="c1")
    run(shell, "%%mistral --prefix 'Sure'\nSecond", cell_id="c2")
    return shell


def test_save_then_load_gives_back_the_same_conversation(chatted, server, tmp_path):
    path = tmp_path / "lesson.json"
    captured = run(chatted, f"%mistral_save {path}")
    assert f"Saved 'default' (2 turns) to {path}." in captured.stdout
    saved = json.loads(path.read_text())
    first = saved["turns"][0]
    assert saved["system"] == "Be brief." and first["params"] == {"temperature": 0.2, "max_tokens": 50}
    assert first["model"] == "mistral-small-latest" and first["usage"]["completion_tokens"] > 0
    assert len(first["request_id"]) == 32 and first["created"] > 0
    assert saved["turns"][1]["params"] == {"prefix": "Sure"}
    before = store(chatted)["default"].to_dict()
    run(chatted, "%mistral_reset")
    captured = run(chatted, f"%mistral_load {path}")
    assert "Loaded 2 turns into 'default'" in captured.stdout
    assert store(chatted)["default"].to_dict() == before
    run(chatted, "%%mistral\nThird")
    assert [m["content"] for m in server.last_body["messages"]][:3] == ["Be brief.", "First", "Echo: First"]


def test_load_under_another_name_and_bad_files(chatted, tmp_path):
    path = tmp_path / "c.json"
    run(chatted, f"%mistral_save {path}")
    run(chatted, f"%mistral_load {path} -c copy")
    assert contents(chatted, "copy") == contents(chatted)
    (tmp_path / "other.json").write_text('{"not": "ours"}')
    with pytest.raises(UsageError, match="is not a conversation saved by %mistral_save"):
        chatted.run_line_magic("mistral_load", str(tmp_path / "other.json"))
    with pytest.raises(UsageError, match=r"cannot read .*missing\.json"):
        chatted.run_line_magic("mistral_load", str(tmp_path / "missing.json"))
    with pytest.raises(UsageError, match="no conversation named 'nope'"):
        chatted.run_line_magic("mistral_save", f"{path} -c nope")


def test_export_writes_a_readable_transcript(chatted, tmp_path):
    path = tmp_path / "handout.md"
    run(chatted, f"%mistral_export {path}")
    text = path.read_text()
    assert text.startswith("**Conversation 'default'** (2 turns)")
    assert "**system**\n\nBe brief." in text and "**[2] assistant**\n\nSure continued." in text


def test_each_reply_carries_its_record_in_the_output_metadata(shell, server):
    captured = run(shell, "%%mistral -m mistral-large-latest -t 0 --stop END\nHi", cell_id="c1")
    record = captured.outputs[-1].metadata["mistral_magic"]
    assert record["model"] == "mistral-large-latest" and record["turn"] == 1
    assert record["params"] == {"temperature": 0.0, "stop": ["END"]}
    assert record["finish_reason"] == "stop" and record["usage"]["total_tokens"] > 0
    assert record["request_id"] and record["conversation"] == "default"
    captured = run(shell, "%%mistral --once\nAside")
    assert captured.outputs[-1].metadata["mistral_magic"]["turn"] is None


def test_fork_starts_a_new_conversation_from_the_first_turns(chatted, server):
    captured = run(chatted, "%mistral_fork plan-b --at 1")
    assert "'plan-b' starts from 1 turn of 'default'" in captured.stdout
    run(chatted, "%%mistral -c plan-b\nAnother way")
    assert [m["content"] for m in server.last_body["messages"]] == [
        "Be brief.", "First", "Echo: First", "Another way"]
    assert len(store(chatted)["default"]) == 2
    with pytest.raises(UsageError, match="'plan-b' already has turns"):
        chatted.run_line_magic("mistral_fork", "plan-b")
    with pytest.raises(UsageError, match="--at must be between 0 and 2"):
        chatted.run_line_magic("mistral_fork", "plan-c --at 5")


def test_chats_lists_conversations_with_turns_and_tokens(chatted):
    run(chatted, "%%mistral -c other\nHello")
    table = run(chatted, "%mistral_chats").outputs[0].data["text/markdown"]
    tokens_in, tokens_out = store(chatted)["default"].tokens()
    assert f"| default | 2 | {tokens_in} | {tokens_out} | 'Be brief.' |" in table
    assert "| other | 1 |" in table


def test_usage_estimates_cost_from_a_configurable_price_table(chatted):
    tokens_in, tokens_out = store(chatted)["default"].tokens()
    table = run(chatted, "%mistral_usage").outputs[0].data["text/markdown"]
    cost = (tokens_in * 0.1 + tokens_out * 0.3) / 1e6
    assert f"| default | 2 | {tokens_in} | {tokens_out} | {cost:.4f} |" in table
    assert f"| **kernel** | 2 | {tokens_in} | {tokens_out} |" in table
    chatted.run_line_magic("config", "MistralMagics.prices = {'mistral-small': [1000, 2000]}")
    run(chatted, "%%mistral -m codestral-latest\nCode?")
    table = run(chatted, "%mistral_usage").outputs[0].data["text/markdown"]
    cost = (tokens_in * 1000 + tokens_out * 2000) / 1e6
    assert f"| {cost:.4f} |" in table and "No price for codestral-latest: not counted." in table
