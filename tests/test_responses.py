"""Replies read as the official client's response models read them."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timezone

import pytest

from mistral_magic.responses import (
    AssistantMessage,
    BaseModelCard,
    ChatCompletionResponse,
    CompletionEvent,
    ContentChunk,
    FTModelCard,
    completion,
    event,
    model_card,
    model_list,
)

from helpers import OFFICIAL_CLIENT

# The official client's models and their fields (mistralai 3.7).
FIELDS = {
    "ChatCompletionResponse": ["id", "object", "model", "usage", "created", "choices"],
    "ChatCompletionChoice": ["index", "finish_reason", "message", "messages", "logprobs", "prompt_logprobs"],
    "AssistantMessage": ["role", "content", "tool_calls", "prefix"],
    "ToolCall": ["function", "id", "type", "index"],
    "FunctionCall": ["name", "arguments"],
    "UsageInfo": ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_audio_seconds", "service_tier"],
    "CompletionEvent": ["data"],
    "CompletionChunk": ["id", "model", "choices", "object", "created", "usage"],
    "CompletionResponseStreamChoice": ["index", "delta", "finish_reason", "logprobs", "prompt_logprobs"],
    "DeltaMessage": ["role", "content", "tool_calls", "tool_call_id", "index", "metadata"],
    "ModelList": ["object", "data"],
    "BaseModelCard": ["id", "capabilities", "object", "created", "owned_by", "name", "description",
                      "max_context_length", "aliases", "deprecation", "deprecation_replacement_model",
                      "default_model_temperature", "internal", "billing_model_name", "type"],
    "ModelCapabilities": ["completion_chat", "function_calling", "reasoning", "completion_fim", "fine_tuning",
                          "vision", "ocr", "classification", "moderation", "audio", "audio_transcription",
                          "audio_transcription_realtime", "audio_speech", "unified_resources"],
}
FIELDS["FTModelCard"] = [*FIELDS["BaseModelCard"], "job", "root", "archived"]

TOOL_REPLY = {
    "id": "cmpl-7", "object": "chat.completion", "model": "mistral-large-latest", "created": 1700000000,
    "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "prompt_tokens_details": {"cached": 4}},
    "choices": [
        {"index": 0, "finish_reason": "tool_calls",
         "message": {"role": "assistant", "content": None, "tool_calls": [
             {"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
             {"id": "call_2", "type": "function", "index": 1,
              "function": {"name": "get_time", "arguments": {"zone": "CET"}}},
         ]},
         "logprobs": {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "token_id": 7}]}},
        {"index": 1, "finish_reason": "stop",
         "message": {"content": [{"type": "text", "text": "Bonjour "}, {"type": "text", "text": "à tous"}],
                     "prefix": True}},
    ],
}
BARE_REPLY = {"id": "cmpl-8", "object": "chat.completion", "model": "mistral-small-latest", "created": 1, "usage": {},
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}]}
CHUNKS = [
    {"id": "cmpl-9", "model": "mistral-small-latest", "object": "chat.completion.chunk", "created": 2,
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
    {"id": "cmpl-9", "model": "mistral-small-latest",
     "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {
         "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}], "tool_call_id": "t1", "index": 3,
         "metadata": {"k": "v"}}}],
     "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "service_tier": "standard"}},
]
BASE_CARD = {"id": "mistral-small-latest", "object": "model", "created": 1, "owned_by": "mistralai",
             "capabilities": {"completion_chat": True, "function_calling": True},
             "aliases": ["mistral-small-2506"], "deprecation": "2026-06-30T00:00:00Z",
             "default_model_temperature": 0.3, "type": "base"}
FT_CARD = {"id": "ft:open-mistral-7b:abc", "capabilities": {"fine_tuning": True}, "job": "job-1",
           "root": "open-mistral-7b", "type": "fine-tuned"}
MODELS = {"object": "list", "data": [BASE_CARD, FT_CARD]}


def test_a_misspelt_field_fails_naming_the_nearest_one():
    choice = completion(BARE_REPLY).choices[0]
    with pytest.raises(AttributeError) as raised:
        choice.mesage  # noqa: B018
    assert str(raised.value) == "'ChatCompletionChoice' has no field 'mesage' (did you mean 'message'?)"
    with pytest.raises(AttributeError, match=r"^'AssistantMessage' has no field 'zzz'$"):
        choice.message.zzz  # noqa: B018
    assert not hasattr(choice.message, "contents")


def test_fields_the_server_left_out_read_the_clients_defaults():
    reply = completion(TOOL_REPLY)
    call = reply.choices[0].message.tool_calls[0]
    assert (call.id, call.type, call.index) == ("null", "function", 0)
    assert call.function.name == "get_weather"
    message = completion(BARE_REPLY).choices[0].message
    assert (message.role, message.prefix, message.tool_calls) == ("assistant", False, None)
    usage = completion(BARE_REPLY).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.service_tier) == (0, 0, 0, None)
    card = model_card(BASE_CARD)
    assert not card.capabilities.vision and not card.capabilities.ocr and card.capabilities.function_calling
    bare = model_card({"id": "m", "capabilities": {}})
    assert (bare.owned_by, bare.object, bare.max_context_length, bare.internal, bare.type, bare.name) == (
        "mistralai", "model", 32768, False, "base", None)
    assert model_list({"data": []}).object == "list"


def test_keys_the_table_does_not_know_read_as_themselves():
    reply = completion(TOOL_REPLY)
    assert reply.usage.prompt_tokens_details == {"cached": 4}
    newer = completion({**BARE_REPLY, "system_fingerprint": "fp-1"})
    assert newer.system_fingerprint == "fp-1"
    image = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    content = completion({"choices": [{"message": {"content": [image]}}]}).choices[0].message.content
    assert content[0].image_url == {"url": "https://x/y.png"} and content[0].text is None


def test_model_dump_is_a_copy_of_the_json_as_received():
    for document, view in [(TOOL_REPLY, completion(TOOL_REPLY)), (MODELS, model_list(MODELS)),
                           (FT_CARD, model_card(FT_CARD)), (BARE_REPLY, completion(BARE_REPLY, str.upper))]:
        dumped = view.model_dump()
        assert dumped == document and json.dumps(dumped) == json.dumps(document)
        assert view.model_dump(by_alias=True, mode="json") == document
    assert event(CHUNKS[0]).model_dump() == {"data": CHUNKS[0]}
    dumped = completion(TOOL_REPLY).model_dump()
    dumped["choices"][0]["message"]["tool_calls"].clear()
    assert len(TOOL_REPLY["choices"][0]["message"]["tool_calls"]) == 2
    parsed = completion(BARE_REPLY, str.upper).model_dump()
    assert type(parsed["choices"][0]["message"]) is dict


def test_model_dump_json_keeps_the_json_and_its_characters():
    text = completion(TOOL_REPLY).model_dump_json()
    assert "à tous" in text
    assert json.loads(text) == TOOL_REPLY
    assert completion(BARE_REPLY).model_dump_json(indent=2) == json.dumps(BARE_REPLY, indent=2)


def test_repr_shows_the_fields_present_in_table_order_on_one_line():
    reply = completion({"choices": [{"message": {"content": "a\nb"}, "index": 0}], "model": "mistral-small-latest",
                        "id": "cmpl-1", "usage": {"total_tokens": 3}, "extra": 1})
    assert repr(reply) == (
        "ChatCompletionResponse(id='cmpl-1', model='mistral-small-latest', usage=UsageInfo(total_tokens=3), "
        "choices=[ChatCompletionChoice(index=0, message=AssistantMessage(content='a\\nb'))], extra=1)")


def test_parsed_is_what_parse_made_of_the_content():
    seen = []

    def parse(text):
        seen.append(text)
        return json.loads(text)

    reply = completion({"choices": [
        {"index": 0, "message": {"content": '{"a": 1}'}},
        {"index": 1, "message": {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]},
                                             {"type": "text", "text": '{"b":'}, {"type": "citation", "text": "[1]"},
                                             {"type": "text", "text": " 2}"}]}},
        {"index": 2, "message": {"content": ""}},
        {"index": 3, "message": {"role": "assistant"}},
        {"index": 4, "finish_reason": "error"},
    ]}, parse)
    assert [choice.message and choice.message.parsed for choice in reply.choices] == [
        {"a": 1}, {"b": 2}, None, None, None]
    assert seen == ['{"a": 1}', '{"b": 2}']
    first = reply.choices[0].message
    assert first.parsed is reply.choices[0].message.parsed
    assert isinstance(first, AssistantMessage) and first.content == '{"a": 1}'
    assert completion(BARE_REPLY).choices[0].message.parsed is None


def test_content_chunks_read_by_attribute():
    content = completion(TOOL_REPLY).choices[1].message.content
    assert [(chunk.type, chunk.text) for chunk in content] == [("text", "Bonjour "), ("text", "à tous")]


def test_fine_tuned_cards_have_their_own_fields():
    cards = model_list(MODELS).data
    assert [type(card) for card in cards] == [BaseModelCard, FTModelCard]
    fine_tuned = cards[1]
    assert (fine_tuned.job, fine_tuned.root, fine_tuned.archived, fine_tuned.type) == (
        "job-1", "open-mistral-7b", False, "fine-tuned")
    assert model_card({**FT_CARD, "archived": True}).archived is True
    with pytest.raises(AttributeError, match="'BaseModelCard' has no field 'job'"):
        cards[0].job  # noqa: B018
    assert cards[0].deprecation == datetime(2026, 6, 30, tzinfo=timezone.utc)


def test_streamed_events_read_as_event_data():
    events = [event(chunk) for chunk in CHUNKS]
    assert isinstance(events[0], CompletionEvent)
    assert events[0].data.choices[0].delta.content == "Hel"
    assert events[1].data.choices[0].delta.content is None
    assert events[1].data.choices[0].delta.tool_calls[0].type == "function"
    assert events[1].data.usage.total_tokens == 12


def test_views_of_equal_json_are_equal_and_survive_copy_and_pickle():
    reply = completion(BARE_REPLY, str.upper)
    assert reply.choices[0] == reply.choices[0] and reply.choices[0] != completion(TOOL_REPLY).choices[0]
    for twin in (copy.deepcopy(reply), pickle.loads(pickle.dumps(reply))):
        assert isinstance(twin, ChatCompletionResponse) and twin == reply
        assert twin.choices[0].message.parsed == "OK"


def official_reads(ours, theirs, path="response"):
    """Every field of the table, as our view and the client's model read it, pairs that differ."""
    from pydantic import BaseModel

    if isinstance(ours, ContentChunk):  # the client has one class per kind of chunk
        return [(f"{path}.{name}", getattr(ours, name), getattr(theirs, name))
                for name in ("type", "text") if hasattr(theirs, name) and getattr(ours, name) != getattr(theirs, name)]
    if isinstance(ours, list):
        assert len(ours) == len(theirs), path
        return [diff for i, pair in enumerate(zip(ours, theirs)) for diff in official_reads(*pair, f"{path}[{i}]")]
    if not isinstance(theirs, BaseModel) or type(theirs).__name__ == "Unset":
        theirs = None if type(theirs).__name__ == "Unset" else theirs
        return [] if ours == theirs else [(path, ours, theirs)]
    if isinstance(ours, dict):  # a field the table leaves as JSON, a model in the client
        return [] if ours == theirs.model_dump(by_alias=True) else [(path, ours, theirs)]
    assert type(ours).__name__ == type(theirs).__name__, path
    return [diff for name in FIELDS[type(ours).__name__]
            for diff in official_reads(getattr(ours, name), getattr(theirs, name), f"{path}.{name}")]


def test_views_read_every_field_as_the_official_client_does():
    pytest.importorskip("mistralai.client", reason=OFFICIAL_CLIENT)
    from mistralai.client import models as m

    pairs = [(completion(TOOL_REPLY), m.ChatCompletionResponse.model_validate(TOOL_REPLY)),
             (completion(BARE_REPLY), m.ChatCompletionResponse.model_validate(BARE_REPLY)),
             (model_list(MODELS), m.ModelList.model_validate(MODELS)),
             (model_card(FT_CARD), m.FTModelCard.model_validate(FT_CARD))]
    pairs += [(event(chunk), m.CompletionEvent.model_validate({"data": chunk})) for chunk in CHUNKS]
    for ours, theirs in pairs:
        assert official_reads(ours, theirs) == []
    official = m.ChatCompletionResponse.model_validate(TOOL_REPLY)
    assert completion(TOOL_REPLY).usage.prompt_tokens_details == official.usage.prompt_tokens_details
