"""The HTTP client against the loopback server: streams, JSON, models, failures."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mistral_magic import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    MistralClient,
    StreamError,
)
from mistral_magic.protocol import Reply, build_payload
from mistral_magic.retry import RetryPolicy

import mistral_server as ms
from helpers import free_port

QUICK = RetryPolicy(retries=3, initial=0.01, cap=0.02)

USER = [{"role": "user", "content": "What is the best French cheese?"}]


@pytest.fixture
def make_client(server):
    """MistralClient factory that closes every client it made."""
    made = []

    def make(*args, **kwargs):
        kwargs.setdefault("retry", RetryPolicy(retries=0))
        made.append(MistralClient(*args, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


def payload(stream=True, **options):
    return build_payload("mistral-small-latest", USER, options, stream=stream)


def streamed_text(client, **options) -> Reply:
    reply = Reply()
    for chunk in client.stream_chat(payload(**options)):
        reply.add_chunk(chunk)
    return reply


def test_stream_yields_chunks_until_done(server, make_client):
    reply = streamed_text(make_client())
    assert reply.text == "Echo: What is the best French cheese?"
    assert reply.finish_reason == "stop" and reply.usage["completion_tokens"] > 0
    request = server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["accept"] == "text/event-stream"
    assert request.body["stream"] is True


@pytest.mark.parametrize("options", [
    {"crlf": True}, {"comments": True}, {"padding": True}, {"content_list": True}])
def test_stream_tolerates_real_world_framing(server, options, make_client):
    server.enqueue(ms.reply("Bonjour à tous", **options))
    assert streamed_text(make_client()).text == "Bonjour à tous"


def test_line_separator_inside_json_is_not_a_line_break(server, make_client):
    event = '{"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"a\u2028b"},"finish_reason":"stop"}]}'
    server.enqueue(ms.raw(200, {"Content-Type": "text/event-stream"},
                          [f"data: {event[:30]}".encode(), f"{event[30:]}\n\n".encode(), b"data: [DONE]\n\n"]))
    assert streamed_text(make_client()).text == "a\u2028b"


def test_whole_reply_and_models(server, make_client):
    client = make_client(base_url=server.url + "/v1/")
    response = client.chat(payload(stream=False))
    assert response["choices"][0]["message"]["content"] == "Echo: What is the best French cheese?"
    assert server.requests[-1].path == "/v1/chat/completions"
    assert "mistral-small-latest" in [card["id"] for card in client.list_models()]


def test_async_stream_and_whole_reply(server, make_client):
    client = make_client()

    async def run():
        pieces = [chunk async for chunk in client.astream_chat(payload())]
        whole = await client.achat(payload(stream=False))
        return pieces, whole

    pieces, whole = asyncio.run(run())
    reply = Reply()
    for chunk in pieces:
        reply.add_chunk(chunk)
    assert reply.text == whole["choices"][0]["message"]["content"]


def test_missing_key_is_a_config_error_before_any_request(server, monkeypatch, make_client):
    monkeypatch.delenv("MISTRAL_API_KEY")
    with pytest.raises(ConfigError, match="MISTRAL_API_KEY is not set"):
        list(make_client().stream_chat(payload()))
    assert server.requests == []


@pytest.mark.parametrize("script, status, words", [
    (ms.unauthorized(), 401, "Check the key in MISTRAL_API_KEY"),
    (ms.invalid_model("nope"), 400, "Invalid model: nope"),
    (ms.validation_error(["body", "temperature"], "Input should be less than or equal to 1.5"), 422,
     "temperature: Input should be less than or equal to 1.5"),
    (ms.rate_limited(retry_after="3"), 429, "re-run the cell in 3 s"),
    (ms.server_error(503), 503, "re-run the cell in a moment"),
])
def test_error_statuses_become_one_line(server, script, status, words, make_client):
    server.enqueue(script)
    with pytest.raises(APIStatusError) as caught:
        list(make_client().stream_chat(payload()))
    assert caught.value.status == status
    assert words in str(caught.value)
    assert "test-key" not in str(caught.value)


def test_wrong_key_is_never_echoed(server, make_client):
    client = make_client("sk-wrong-secret-123")
    with pytest.raises(APIStatusError) as caught:
        client.chat(payload(stream=False))
    assert "sk-wrong-secret-123" not in str(caught.value) + repr(client)


def test_connection_refused(server, make_client):
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(APIConnectionError, match=r"could not connect to http://127\.0\.0\.1"):
        client.chat(payload(stream=False))


def test_read_timeout_names_the_setting(server, make_client):
    server.enqueue(ms.stall(5, after_chunks=1))
    with pytest.raises(APITimeoutError, match=r"no data from .* for 0\.3 s\. Raise MistralMagics\.read_timeout"):
        streamed_text(make_client(read_timeout=0.3))


def test_connection_dropped_mid_stream(server, make_client):
    server.enqueue(ms.drop(after_chunks=2))
    with pytest.raises(APIConnectionError, match=r"before the reply was complete|dropped"):
        streamed_text(make_client())


def test_malformed_chunk_is_a_stream_error(server, make_client):
    server.enqueue(ms.malformed())
    with pytest.raises(StreamError, match="not JSON"):
        streamed_text(make_client())


def test_repr_shows_the_url_only(server, make_client):
    assert repr(make_client("sk-abc")) == f"MistralClient(base_url='{server.url}')"


@pytest.mark.parametrize("failure", [ms.server_error(503), ms.rate_limited(), ms.server_error(502)])
def test_transient_failures_are_retried_and_reported(server, make_client, failure):
    server.enqueue(failure, failure)
    said = []
    reply = Reply()
    for chunk in make_client(retry=QUICK).stream_chat(payload(), on_status=said.append):
        reply.add_chunk(chunk)
    assert reply.text.startswith("Echo:") and len(server.requests) == 3
    assert len(said) == 2 and "retrying in" in said[0] and "attempt 2 of 4" in said[0]


def test_retry_after_is_honoured_in_seconds_and_as_a_date(server, make_client):
    server.enqueue(ms.rate_limited(retry_after="0.2"), ms.rate_limited(retry_after="Thu, 01 Jan 1970 00:00:00 GMT"))
    said = []
    make_client(retry=QUICK).chat(payload(stream=False), on_status=said.append)
    assert said[0].startswith("429 Too Many Requests: retrying in 0.2 s")
    assert said[1].startswith("429 Too Many Requests: retrying in 0.0 s")


def test_retries_are_bounded_in_attempts_and_in_time(server, make_client):
    server.enqueue(*[ms.server_error(500)] * 6)
    with pytest.raises(APIStatusError, match="500"):
        make_client(retry=RetryPolicy(retries=2, initial=0.01)).chat(payload(stream=False))
    assert len(server.requests) == 3
    server.reset()
    server.enqueue(ms.rate_limited(retry_after="120"))
    with pytest.raises(APIStatusError, match="re-run the cell in 120 s"):
        make_client(retry=RetryPolicy(max_total=60)).chat(payload(stream=False))
    assert len(server.requests) == 1


def test_client_errors_are_not_retried(server, make_client):
    server.enqueue(ms.unauthorized())
    with pytest.raises(APIStatusError, match="401"):
        make_client(retry=QUICK).chat(payload(stream=False))
    assert len(server.requests) == 1


def test_refused_connections_are_retried_then_reported(server, make_client):
    said = []
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}", retry=QUICK)
    with pytest.raises(APIConnectionError, match="could not connect"):
        client.chat(payload(stream=False), on_status=said.append)
    assert len(said) == 3 and said[0].startswith("could not connect")


def test_nothing_is_retried_once_content_has_arrived(server, make_client):
    server.enqueue(ms.drop(after_chunks=2))
    with pytest.raises(APIConnectionError):
        streamed_text(make_client(retry=QUICK))
    assert len(server.requests) == 1


def test_async_requests_retry_too_and_send_the_same_body(server, make_client):
    server.enqueue(ms.server_error(503))
    client = make_client(retry=QUICK)
    sent = build_payload("mistral-small-latest", long_conversation(), {}, stream=True)

    async def run():
        return [chunk async for chunk in client.astream_chat(sent)]

    assert asyncio.run(run()) and len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body == sent


def test_chunks_before_a_bad_one_in_the_same_read_still_arrive(server, make_client):
    good = '{"choices":[{"index":0,"delta":{"content":"%s"}}]}'
    body = f"data: {good % 'kept '}\n\ndata: {good % 'too'}\n\ndata: {{oops\n\n".encode()
    server.enqueue(ms.raw(200, {"Content-Type": "text/event-stream"}, [body]))
    reply = Reply()
    with pytest.raises(StreamError):
        for chunk in make_client().stream_chat(payload()):
            reply.add_chunk(chunk)
    assert reply.text == "kept too"


def test_cutting_a_stream_ends_a_read_blocked_on_a_silent_server(server, make_client):
    server.enqueue(ms.stall(30, after_chunks=1))
    client, started, failures = make_client(), threading.Event(), []

    def read():
        try:
            for _ in client.stream_chat(payload()):
                started.set()
        except APIConnectionError as error:
            failures.append(error)

    reader = threading.Thread(target=read, name="reader")
    reader.start()
    assert started.wait(10)
    client.cut_streams([reader])
    reader.join(10)  # the server stays silent for 30 s: only the cut ends the read sooner
    assert not reader.is_alive()
    # The socket shut down under the read: seen as the stream ending early, or (when the kernel
    # answers the server's next write with a reset first) as a dropped connection.
    assert any(words in str(failures[0]) for words in ("closed before the reply was complete", "dropped mid-reply"))
    assert streamed_text(client).text.startswith("Echo: ")  # the cut connection was not reused


def long_conversation() -> list[dict]:
    turns = [[{"role": "user", "content": f"question {i} «é» \U0001f9c0"},
              {"role": "assistant", "content": "answer " * 500 + "\ud800"}] for i in range(200)]
    return [message for turn in turns for message in turn] + USER


def test_a_long_conversation_is_sent_whole_with_its_length_and_again_on_a_retry(server, make_client):
    server.enqueue(ms.server_error(503))
    sent = build_payload("mistral-small-latest", long_conversation(), {"temperature": 0.3}, stream=True)
    reply = Reply()
    for chunk in make_client(retry=QUICK).stream_chat(sent):
        reply.add_chunk(chunk)
    assert reply.text.startswith("Echo: What is the best French cheese?")
    first, retried = server.requests
    assert first.raw == retried.raw and first.body == sent
    assert first.headers["content-length"] == str(len(first.raw)) and "transfer-encoding" not in first.headers
    assert first.headers["content-type"] == "application/json"
