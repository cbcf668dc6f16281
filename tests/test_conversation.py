"""Conversations: cell-keyed turns, undo, clear, round trips."""

from __future__ import annotations

from mistral_magic import Conversation, ConversationStore, Turn


def turn(prompt: str, cell: str | None = None) -> Turn:
    return Turn([{"role": "user", "content": prompt}, {"role": "assistant", "content": prompt.upper()}],
                cell_id=cell)


def test_rerunning_a_cell_replaces_its_turn_in_place():
    conversation = Conversation()
    for prompt, cell in (("a", "c1"), ("b", "c2"), ("c", "c3")):
        conversation.commit(turn(prompt, cell))
    assert conversation.messages("c2") == turn("a").messages
    conversation.commit(turn("b2", "c2"))
    assert [t.prompt for t in conversation.turns] == ["a", "b2", "c"]


def test_turns_without_a_cell_id_append():
    conversation = Conversation(system="Be brief.")
    conversation.commit(turn("a"))
    conversation.commit(turn("a"))
    assert len(conversation) == 2
    assert conversation.messages()[0] == {"role": "system", "content": "Be brief."}
    assert conversation.messages(turns=False) == [{"role": "system", "content": "Be brief."}]


def test_undo_drops_the_last_turn_and_clear_can_keep_the_system_message():
    conversation = Conversation(system="S")
    conversation.commit(turn("a", "c1"))
    conversation.commit(turn("b", "c2"))
    assert conversation.undo().prompt == "b"
    conversation.clear(keep_system=True)
    assert (len(conversation), conversation.system) == (0, "S")
    conversation.clear()
    assert conversation.system is None
    assert conversation.undo() is None


def test_dict_round_trip_gives_back_the_same_conversation():
    conversation = Conversation("notes", system="S")
    conversation.commit(turn("a", "c1"))
    again = Conversation.from_dict(conversation.to_dict())
    assert again.to_dict() == conversation.to_dict()


def test_markdown_transcript_numbers_turns():
    conversation = Conversation(system="S")
    conversation.commit(turn("hello"))
    text = conversation.to_markdown()
    assert "**system**" in text and "**[1] user**\n\nhello" in text and "**[1] assistant**\n\nHELLO" in text


def test_store_makes_conversations_on_first_use():
    store = ConversationStore()
    assert "x" not in store
    assert store["x"] is store["x"]
    assert list(store) == ["x"]


def test_observers_hear_of_every_change_until_they_stop():
    conversation, heard = Conversation(), []
    stop = conversation.observe(lambda changed: heard.append((changed.system, len(changed))))
    conversation.commit(turn("a"))
    conversation.system = "Be brief."
    conversation.undo()
    conversation.commit(turn("b"))
    conversation.clear()
    stop()
    conversation.commit(turn("c"))
    assert heard == [(None, 1), ("Be brief.", 1), ("Be brief.", 0), ("Be brief.", 1), (None, 0)]


def test_the_transcript_lists_tool_calls_with_their_results():
    conversation = Conversation()
    call = {"id": "call00001", "type": "function", "function": {"name": "double", "arguments": '{"n": 21}'}}
    failed = {**call, "id": "call00002", "function": {"name": "double", "arguments": '{"n": "x"}'}}
    conversation.commit(Turn([
        {"role": "user", "content": "Double 21 and x?"},
        {"role": "assistant", "content": "", "tool_calls": [call, failed]},
        {"role": "tool", "tool_call_id": "call00001", "name": "double", "content": "42"},
        {"role": "tool", "tool_call_id": "call00002", "name": "double", "content": '{"error": "TypeError: x"}'},
        {"role": "assistant", "content": "42, and x cannot be doubled."}]))
    assert conversation.to_markdown().endswith(
        "**[1] user**\n\nDouble 21 and x?\n\n**[1] assistant**\n\n"
        "🔧 `double(n=21)` → `42`  \n🔧 `double(n=\"x\")` → ⚠ `TypeError: x`\n\n42, and x cannot be doubled.")
