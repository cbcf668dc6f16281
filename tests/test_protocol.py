"""The protocol without sockets: payloads, reply assembly, error sentences."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mistral_magic.errors import StreamError
from mistral_magic.protocol import Reply, build_payload, status_error

from fault_matrix import UNPROCESSABLE


def chunk(content=None, finish=None, **extra):
    delta = {} if content is None else {"content": content}
    return {"id": "x", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra}


def test_zero_values_are_sent_and_unset_ones_are_not():
    payload = build_payload("m", [], {"temperature": 0, "top_p": None, "safe_prompt": False},
                            stream=True)
    assert payload == {"model": "m", "messages": [], "temperature": 0, "safe_prompt": False,
                       "stream": True}


def test_reply_assembles_text_usage_and_finish_reason():
    reply = Reply()
    shown = [reply.add_chunk(c) for c in (
        chunk(""), chunk("Bon"), chunk("jour", p="padding"),
        chunk(" !", "stop", usage={"prompt_tokens": 3, "completion_tokens": 2}))]
    assert shown == ["", "Bon", "jour", " !"]
    assert reply.text == "Bonjour !"
    assert reply.finish_reason == "stop"
    assert reply.usage == {"prompt_tokens": 3, "completion_tokens": 2}


def test_list_content_shows_text_and_passes_thinking_on():
    thought: list[str] = []
    reply = Reply(on_thinking=thought.append)
    reply.add_chunk(chunk([{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]))
    reply.add_chunk(chunk([{"type": "thinking", "thinking": [{"type": "text", "text": ", yes"}], "closed": True},
                           {"type": "text", "text": "Ans"}]))
    reply.add_chunk(chunk("wer"))
    assert reply.text == "Answer" and thought == ["hmm", ", yes"] and str(reply.thinking) == "hmm, yes"
    assert reply.thought_for is not None and reply.thought_for >= 0


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_style_reasoning_fields_are_thinking(field):
    reply = Reply()
    reply.add_chunk({"choices": [{"index": 0, "delta": {field: "Let me see", "content": None}}]})
    reply.add_chunk(chunk("Yes."))
    assert reply.text == "Yes." and str(reply.thinking) == "Let me see"


def test_a_whole_reasoning_response_keeps_thinking_apart():
    reply = Reply()
    content = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "Hi"}]
    assert reply.add_response({"choices": [{"message": {"content": content}, "finish_reason": "stop"}]}) == "Hi"
    assert str(reply.thinking) == "hmm" and reply.thought_for is not None  # until the response came


@pytest.mark.parametrize("pieces", [
    ["The capital", " of Italy is", " Rome."],  # the server repeats the prefix
    [" Rome."],                                  # the server does not
    ["The capital of Italy is Rome."],
])
def test_prefix_appears_exactly_once(pieces):
    reply = Reply(prefix="The capital of Italy is")
    shown = "".join(reply.add_chunk(chunk(p)) for p in pieces) + reply.finish()
    assert shown == reply.text == "The capital of Italy is Rome."


def test_prefix_alone_when_nothing_follows():
    reply = Reply(prefix="Done")
    assert reply.add_chunk(chunk("Do")) == ""
    assert reply.finish() == "Done"
    assert reply.text == "Done"


def test_tool_call_fragments_merge_by_index():
    reply = Reply()
    first = {"index": 0, "id": "abcDEF123", "function": {"name": "get", "arguments": '{"ci'}}
    reply.add_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})
    reply.add_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": 'ty":"Lyon"}'}}]}}]})
    assert reply.tool_calls == [{"id": "abcDEF123", "type": "function",
                                 "function": {"name": "get", "arguments": '{"city":"Lyon"}'}}]


def body(data) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize("status, raw, expected", [
    (401, body({"message": "Unauthorized", "request_id": "ab"}),
     "401 Unauthorized: Unauthorized. Check the key in MISTRAL_API_KEY."),
    (401, body({"detail": "Unauthorized"}), "401 Unauthorized: Unauthorized."),
    (401, b"", "401 Unauthorized. Check the key"),
    (400, body({"object": "error", "message": "Invalid model: foo", "type": "invalid_model", "code": "1500"}),
     "400 Bad Request: Invalid model: foo. List the models your key can use with %mistral_models."),
    (422, body({"object": "error", "message": {"detail": [
        {"type": "less_than_equal", "loc": ["body", "temperature"], "msg": "Input should be <= 1.5"}]}}),
     f"{UNPROCESSABLE}: temperature: Input should be <= 1.5"),
    (422, body({"detail": [{"loc": ["body", "messages", 0, "content"], "msg": "Field required"}]}),
     "messages.0.content: Field required"),
    (422, body({"object": "error", "message": json.dumps({"detail": [{"loc": ["body", "x"], "msg": "bad"}]})}),
     f"{UNPROCESSABLE}: x: bad"),
    (502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
     "502 Bad Gateway: 502 Bad Gateway. The service had a problem"),
    (400, body({"error": {"message": "bad seed"}}), "400 Bad Request: bad seed."),
])
def test_error_bodies_become_one_sentence(status, raw, expected):
    message = str(status_error(status, raw, {}, "MISTRAL_API_KEY"))
    assert expected in message
    assert "\n" not in message


def test_retry_after_is_read_in_seconds_or_as_a_date():
    assert status_error(429, b"{}", {"retry-after": "7"}, "K").retry_after == 7
    past = status_error(429, b"{}", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, "K")
    assert past.retry_after == 0
    assert "re-run the cell in 7 s" in str(status_error(429, b"{}", {"retry-after": "7"}, "K"))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
CHUNKS = st.fixed_dictionaries({}, optional={
    "choices": st.lists(st.fixed_dictionaries({}, optional={
        "index": JSON, "delta": st.fixed_dictionaries({}, optional={"content": JSON, "tool_calls": JSON}) | JSON,
        "finish_reason": JSON}) | JSON, max_size=3) | JSON,
    "usage": JSON, "id": JSON, "model": JSON, "p": JSON})


@given(st.lists(CHUNKS, max_size=6))
def test_any_chunk_shape_is_text_or_a_stream_error(chunks):
    reply = Reply()
    for item in chunks:
        with contextlib.suppress(StreamError):
            assert isinstance(reply.add_chunk(item), str)


@given(st.text(max_size=60), st.lists(st.integers(0, 60), max_size=6), st.sampled_from(["", "Once", "Ab"]))
def test_text_reassembles_however_it_is_chunked(text, cuts, prefix):
    points = sorted({min(cut, len(text)) for cut in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    reply = Reply(prefix=prefix)
    shown = "".join(reply.add_chunk(chunk(piece)) for piece in pieces) + reply.finish()
    if text.startswith(prefix):
        expected = text            # the server repeated the prefix (or there is none)
    elif prefix.startswith(text):
        expected = prefix          # it stopped partway through repeating it
    else:
        expected = prefix + text   # it did not repeat it
    assert shown == reply.text == expected
