"""Tests for the loopback Mistral emulator itself, using plain httpx (no client package)."""
from __future__ import annotations

import base64
import contextlib
import json
import re
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mistral_server import (
    BATCH_PATH,
    CHAT_PATH,
    DEFAULT_MODELS,
    FILES_PATH,
    MAX_IMAGE_BYTES,
    MistralServer,
    drop,
    error,
    malformed,
    raw,
    reply,
    stall,
)

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def module_server() -> Iterator[MistralServer]:
    with MistralServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def server(module_server: MistralServer) -> MistralServer:
    module_server.reset()
    return module_server


def chat_body(text: str = "hello there", **extra: Any) -> dict:
    return {"model": "mistral-small-latest", "messages": [{"role": "user", "content": text}], **extra}


def post(server: MistralServer, body: Any, headers: dict | None = AUTH, **kw: Any) -> httpx.Response:
    return httpx.post(server.url + CHAT_PATH, json=body, headers=headers, timeout=kw.pop("timeout", 5), **kw)


def stream_data(server: MistralServer, body: dict) -> list[str]:
    """The `data:` payloads of a streamed reply, in order (tolerates a cut connection)."""
    data: list[str] = []
    with httpx.stream("POST", server.url + CHAT_PATH, json={**body, "stream": True}, headers=AUTH, timeout=5) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        with contextlib.suppress(httpx.TransportError):
            data += [line[len("data: "):] for line in r.iter_lines() if line.startswith("data: ")]
    return data


def content_of(data: list[str]) -> str:
    chunks = [json.loads(d) for d in data if d != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def test_default_stream_echoes_with_usage_on_last_chunk(server: MistralServer) -> None:
    data = stream_data(server, chat_body("hello there"))
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert content_of(data) == "Echo: hello there"
    assert all("usage" not in c and c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert len({c["id"] for c in chunks}) == 1
    assert server.last_body["stream"] is True


def test_non_stream_json_shape(server: MistralServer) -> None:
    r = post(server, chat_body("hi"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert "x-ratelimit-remaining-req-minute" in r.headers
    body = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["object"] == "chat.completion" and body["model"] == "mistral-small-latest"
    assert body["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Echo: hi", "tool_calls": None, "prefix": False}}]
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-secret-key"}])
def test_401_never_echoes_the_key(server: MistralServer, headers: dict) -> None:
    r = post(server, chat_body(), headers=headers)
    assert r.status_code == 401
    assert r.json()["message"] == "Unauthorized"
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])
    assert "wrong-secret-key" not in r.text and KEY not in r.text


def test_422_for_unknown_keys(server: MistralServer) -> None:
    r = post(server, chat_body(seed=1))
    assert r.status_code == 422
    body = r.json()
    assert body["object"] == "error" and body["type"] == "invalid_request_error"
    assert body["message"]["detail"][0]["type"] == "extra_forbidden"
    assert body["message"]["detail"][0]["loc"] == ["body", "seed"]
    bad_message = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "x", "name": "bob"}]}
    detail = post(server, bad_message).json()["message"]["detail"]
    assert detail[0]["loc"] == ["body", "messages", 0, "user", "name"]
    assert post(server, {"messages": []}).status_code == 422


def test_400_for_unknown_model(server: MistralServer) -> None:
    r = post(server, {**chat_body(), "model": "gpt-4o"})
    assert r.status_code == 400
    assert r.json() == {"object": "error", "message": "Invalid model: gpt-4o", "type": "invalid_model",
                        "param": None, "code": "1500"}


def test_prefix_is_repeated_and_order_is_checked(server: MistralServer) -> None:
    prefix = {"role": "assistant", "content": "The capital is", "prefix": True}
    body = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Capital?"}, prefix]}
    assert post(server, body).json()["choices"][0]["message"]["content"] == "The capital is continued."
    body["messages"][-1] = {"role": "assistant", "content": "plain"}
    r = post(server, body)
    assert r.status_code == 400 and r.json()["code"] == "3230"
    assert r.json()["message"].endswith("for serving but got assistant")


def test_tool_call_ids_are_validated_and_tool_calls_streamed(server: MistralServer) -> None:
    call = {"id": "bad", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {"model": "mistral-small-latest", "messages": [
        {"role": "user", "content": "go"}, {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "bad", "name": "f", "content": "1"}]}
    assert post(server, body).json()["type"] == "invalid_function_call"
    server.enqueue(reply(tool_calls=[{"id": "Ab3dE9xYz", "function": {"name": "f", "arguments": {"x": 1}}}]))
    last = json.loads(stream_data(server, chat_body())[-2])
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert last["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"x":1}'


def test_stop_and_max_tokens_shape_the_default(server: MistralServer) -> None:
    r = post(server, chat_body("one two three four", stop=["three"]))
    assert r.json()["choices"][0]["message"]["content"] == "Echo: one two "
    r = post(server, chat_body("one two three four", max_tokens=2))
    assert r.json()["choices"][0]["message"]["content"] == "Echo: one "
    assert r.json()["choices"][0]["finish_reason"] == "length"


def test_framing_options_and_reasoning_content(server: MistralServer) -> None:
    server.enqueue(reply("a b c", crlf=True, comments=True, padding=True))
    with httpx.stream("POST", server.url + CHAT_PATH, json=chat_body(stream=True), headers=AUTH) as r:
        wire = r.read()
    assert b"\r\n\r\n" in wire and b": ping" in wire and b'"p":"' in wire
    server.enqueue(reply("answer", content_list=True))
    chunks = [json.loads(d) for d in stream_data(server, chat_body())[1:-1]]
    assert chunks[0]["choices"][0]["delta"]["content"][0]["type"] == "thinking"
    assert chunks[1]["choices"][0]["delta"]["content"][1] == {"type": "text", "text": "answer"}


def test_models_list(server: MistralServer) -> None:
    r = httpx.get(server.url + "/v1/models", headers=AUTH)
    assert r.status_code == 200 and r.json()["object"] == "list"
    assert [card["id"] for card in r.json()["data"]] == list(DEFAULT_MODELS)
    assert r.json()["data"][0]["capabilities"]["completion_chat"] is True
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/v1/nope", headers=AUTH).json() == {"detail": "Not Found"}


def test_queued_script_is_used_once_and_survives_validation_errors(server: MistralServer) -> None:
    server.enqueue(error(503, "<html>Bad gateway</html>"))
    assert post(server, chat_body(), headers={}).status_code == 401  # validation does not consume it
    r = post(server, chat_body())
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert post(server, chat_body()).status_code == 200
    assert [rec.method for rec in server.requests] == ["POST"] * 3


def test_keep_alive_reuses_connection(server: MistralServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        for _ in range(3):
            assert client.post(CHAT_PATH, json=chat_body()).status_code == 200


def test_drop_ends_without_done(server: MistralServer) -> None:
    server.enqueue(drop(2))
    data = stream_data(server, chat_body())
    assert "[DONE]" not in data
    assert content_of(data) == "partial reply "


def test_malformed_event(server: MistralServer) -> None:
    server.enqueue(malformed())
    assert stream_data(server, chat_body())[-2:] == ["{not json", "[DONE]"]


def test_raw_parts(server: MistralServer) -> None:
    server.enqueue(raw(200, {"Content-Type": "text/event-stream"}, [b"data: [DO", b"NE]\n\n"]))
    assert stream_data(server, chat_body()) == ["[DONE]"]


def test_stall_causes_read_timeout(server: MistralServer) -> None:
    server.enqueue(stall(2))
    with pytest.raises(httpx.ReadTimeout):
        post(server, chat_body(), timeout=0.2)


def test_stop_is_prompt_during_stall() -> None:
    server = MistralServer().start()
    server.enqueue(stall(30, after_chunks=1))
    outcome: list[str] = []

    def client() -> None:
        outcome.append(",".join(stream_data(server, chat_body())))

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    deadline = time.monotonic() + 2
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    thread.join(timeout=2)
    assert outcome and "[DONE]" not in outcome[0]


def test_standalone_prints_ready_and_serves() -> None:
    args = [sys.executable, "-m", "mistral_server", "--port", "0", "--key", "k2"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent) as proc:
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.startswith("READY http://127.0.0.1:")
            url = line.split()[1]
            r = httpx.post(url + CHAT_PATH, json=chat_body("ping"), headers={"Authorization": "Bearer k2"}, timeout=5)
            assert r.json()["choices"][0]["message"]["content"] == "Echo: ping"
        finally:
            proc.kill()


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = MistralServer().start()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=2) as client:
        assert client.post(CHAT_PATH, json=chat_body()).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/v1/models")  # the pooled connection must not be served any more


# --------------------------------------------------------------------------- images


def png(width: int, height: int) -> bytes:
    """The start of a PNG: the signature and an IHDR chunk, which is all the server reads."""
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII5B", 13, b"IHDR", width, height, 8, 6, 0, 0, 0)


def jpeg(width: int, height: int) -> bytes:
    """SOI, an APP0 segment to walk past, then a baseline SOF0 with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
    return b"\xff\xd8" + app0 + b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + bytes(3)


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + bytes(3)


def webp(width: int, height: int) -> bytes:
    """An extended (VP8X) WEBP header: canvas size minus one, 24 bits each."""
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + size
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_chunk(url: Any) -> dict:
    return {"type": "image_url", "image_url": url}


def user_chunks(*chunks: Any, model: str = "mistral-small-latest", **extra: Any) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": list(chunks)}], **extra}


def invalid_request_body(message: str) -> dict:
    return {"object": "error", "message": message, "type": "invalid_request_error", "param": None, "code": None}


def test_models_report_vision() -> None:
    with MistralServer(api_key=KEY) as server:
        cards = httpx.get(server.url + "/v1/models", headers=AUTH).json()["data"]
    vision = {card["id"] for card in cards if card["capabilities"]["vision"]}
    assert vision == {"mistral-small-latest", "mistral-medium-latest", "pixtral-large-latest"}
    assert {"magistral-medium-latest", "magistral-small-latest"} <= {card["id"] for card in cards}
    assert cards[0]["id"] == "mistral-small-latest"


@pytest.mark.parametrize(("data", "mime", "described"), [
    (png(640, 480), "image/png", "image/png 640×480"),
    (jpeg(1024, 768), "image/jpeg", "image/jpeg 1024×768"),
    (gif(32, 16), "image/gif", "image/gif 32×16"),
    (webp(300, 200), "image/webp", "image/webp 300×200"),
    (png(1, 1)[:12], "image/png", "image/png"),  # the signature alone: no size to report
])
def test_echo_describes_each_image(server: MistralServer, data: bytes, mime: str, described: str) -> None:
    body = user_chunks({"type": "text", "text": "What is this?"}, image_chunk({"url": data_uri(data, mime)}))
    r = post(server, body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == f"Echo: What is this? [image: {described}]"


def test_echo_of_urls_and_several_images_streamed(server: MistralServer) -> None:
    url = "https://example.com/cat.png"
    body = user_chunks({"type": "text", "text": "Compare"}, image_chunk(url),
                       image_chunk({"url": data_uri(gif(2, 3), "image/gif"), "detail": "low"}),
                       image_chunk({"url": url, "detail": None}))
    expected = f"Echo: Compare [image: {url}] [image: image/gif 2×3] [image: {url}]"
    assert content_of(stream_data(server, body)) == expected
    assert server.last_body["messages"][0]["content"][1]["image_url"] == url


TEXT = {"type": "text", "text": "hi"}


@pytest.mark.parametrize(("chunk", "loc", "type_"), [
    ("hi", [], "model_attributes_type"),
    ({"text": "hi"}, [], "union_tag_not_found"),
    ({"type": "video_url", "video_url": "x"}, [], "union_tag_invalid"),
    ({"type": "text"}, ["text", "text"], "missing"),
    ({"type": "text", "text": 3}, ["text", "text"], "string_type"),
    ({"type": "text", "text": "hi", "cache": True}, ["text", "cache"], "extra_forbidden"),
    ({"type": "image_url"}, ["image_url", "image_url"], "missing"),
    (image_chunk(7), ["image_url", "image_url"], "string_type"),
    (image_chunk({"detail": "low"}), ["image_url", "image_url", "url"], "missing"),
    (image_chunk({"url": None}), ["image_url", "image_url", "url"], "string_type"),
    (image_chunk({"url": "https://x.y/a.png", "detail": "max"}), ["image_url", "image_url", "detail"], "enum"),
    (image_chunk({"url": "https://x.y/a.png", "size": 1}), ["image_url", "image_url", "size"], "extra_forbidden"),
])
def test_422_for_malformed_chunks(server: MistralServer, chunk: Any, loc: list, type_: str) -> None:
    r = post(server, user_chunks(TEXT, chunk))
    assert r.status_code == 422
    [problem] = r.json()["message"]["detail"]
    assert problem["loc"] == ["body", "messages", 0, "user", "content", 1, *loc]
    assert problem["type"] == type_


def test_422_for_an_image_in_a_system_message(server: MistralServer) -> None:
    system = {"role": "system", "content": [image_chunk("https://x.y/a.png")]}
    r = post(server, {"model": "mistral-small-latest", "messages": [system, {"role": "user", "content": "hi"}]})
    [problem] = r.json()["message"]["detail"]
    assert problem["type"] == "union_tag_invalid"
    assert problem["loc"] == ["body", "messages", 0, "system", "content", 0]
    assert problem["msg"].endswith("expected tags: 'text', 'thinking'")


NOT_A_URL = "Image URL must be an http(s) URL or data:image/<png|jpeg|gif|webp>;base64,<data>"


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/a.png", NOT_A_URL),
    (data_uri(png(1, 1), "image/bmp"), NOT_A_URL),
    ("data:image/png;base64,not base64!", "Image data is not valid base64"),
    (data_uri(jpeg(4, 4)), "Image data is not a valid image/png image"),
    (data_uri(b"<svg/>", "image/webp"), "Image data is not a valid image/webp image"),
])
def test_400_for_images_the_api_cannot_read(server: MistralServer, url: str, message: str) -> None:
    r = post(server, user_chunks(TEXT, image_chunk({"url": url})))
    assert (r.status_code, r.json()) == (400, invalid_request_body(message))


def test_400_for_an_image_over_20_mb(server: MistralServer) -> None:
    r = post(server, user_chunks(image_chunk(data_uri(png(8, 8).ljust(MAX_IMAGE_BYTES + 1, b"\0")))), timeout=30)
    message = f"Image is larger than 20 MB ({MAX_IMAGE_BYTES + 1} bytes)"
    assert (r.status_code, r.json()) == (400, invalid_request_body(message))


def test_400_for_images_where_they_cannot_go(server: MistralServer) -> None:
    image = image_chunk("https://x.y/a.png")
    r = post(server, user_chunks(TEXT, image, model="mistral-large-latest"))
    message = "Model mistral-large-latest does not support images"
    assert (r.status_code, r.json()) == (400, invalid_request_body(message))
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [image]},
                {"role": "user", "content": "and?"}]
    r = post(server, {"model": "pixtral-large-latest", "messages": messages})
    assert (r.status_code, r.json()) == (400, invalid_request_body("Images are only accepted in user messages"))


# --------------------------------------------------------------------------- reasoning


def thinking_of(content: list) -> str:
    return "".join(c["thinking"][0]["text"] for c in content if c["type"] == "thinking")


@pytest.mark.parametrize(("model", "effort"), [
    ("magistral-medium-latest", None), ("magistral-small-latest", "high"), ("mistral-small-latest", "high"),
    ("mistral-medium-latest", "minimal"),
])
def test_reasoning_requests_get_thinking_then_text(server: MistralServer, model: str, effort: str | None) -> None:
    extra = {} if effort is None else {"reasoning_effort": effort}
    content = post(server, {**chat_body("hi"), "model": model, **extra}).json()["choices"][0]["message"]["content"]
    assert content == [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me think about it."}]},
                       {"type": "text", "text": "Echo: hi"}]
    chunks = [json.loads(d) for d in stream_data(server, {**chat_body("hi there"), "model": model, **extra})[1:-1]]
    deltas = [c["choices"][0]["delta"]["content"] for c in chunks]
    assert deltas == [[{"type": "thinking", "thinking": [{"type": "text", "text": "Let me think"}]}],
                      [{"type": "thinking", "thinking": [{"type": "text", "text": " about it."}]},
                       {"type": "text", "text": "Echo: "}], "hi ", "there"]


@pytest.mark.parametrize("model", ["magistral-small-latest", "mistral-small-latest"])
def test_reasoning_effort_none_gives_plain_text(server: MistralServer, model: str) -> None:
    r = post(server, {**chat_body("hi"), "model": model, "reasoning_effort": "none"})
    assert r.json()["choices"][0]["message"]["content"] == "Echo: hi"


def test_reasoning_effort_is_validated(server: MistralServer) -> None:
    r = post(server, chat_body(reasoning_effort="maximum"))
    assert r.status_code == 422
    [problem] = r.json()["message"]["detail"]
    assert problem == {"type": "enum", "loc": ["body", "reasoning_effort"], "input": "maximum",
                       "msg": "Input should be 'none', 'minimal', 'low', 'medium', 'high' or 'xhigh'"}
    r = post(server, {**chat_body(), "model": "mistral-large-latest", "reasoning_effort": "none"})
    assert (r.status_code, r.json()) == (
        400, invalid_request_body("reasoning_effort is not supported for model mistral-large-latest"))
    r = post(server, {**chat_body("hi"), "model": "mistral-large-latest", "reasoning_effort": None})
    assert r.json()["choices"][0]["message"]["content"] == "Echo: hi"


def test_scripted_thinking_pauses_before_the_answer(server: MistralServer) -> None:
    server.enqueue(reply("The answer.", thinking=["Let me", " see", " now."], think_delay=0.3))
    arrivals: list[tuple[float, Any]] = []
    with httpx.stream("POST", server.url + CHAT_PATH, json=chat_body(stream=True), headers=AUTH, timeout=5) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                arrivals.append((time.monotonic(), json.loads(line[6:])["choices"][0]["delta"]["content"]))
    contents = [content for _, content in arrivals[1:]]
    assert [thinking_of(c) for c in contents[:3]] == ["Let me", " see", " now."]
    assert contents[2][1] == {"type": "text", "text": "The "} and contents[3:] == ["answer."]
    assert arrivals[3][0] - arrivals[2][0] >= 0.25  # the pause (less timer slack) precedes the transition
    server.enqueue(reply("The answer.", thinking=["Hm."]))
    content = post(server, chat_body()).json()["choices"][0]["message"]["content"]
    assert thinking_of(content) == "Hm." and content[1] == {"type": "text", "text": "The answer."}


def test_content_list_overrides_the_request(server: MistralServer) -> None:
    server.enqueue(reply("plain", content_list=False), reply("listed", content_list=True))
    magistral = {**chat_body(), "model": "magistral-small-latest"}
    assert post(server, magistral).json()["choices"][0]["message"]["content"] == "plain"
    assert thinking_of(post(server, chat_body()).json()["choices"][0]["message"]["content"]) == "Let me think about it."


# --------------------------------------------------------------------------- files and batch jobs

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UNKNOWN_ID = "0b7e2a8c-5f7d-4c1e-9a3b-2d6f8e1c4a90"


def jsonl(*rows: Any) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def line(custom_id: str, text: str, **body: Any) -> dict:
    return {"custom_id": custom_id, "body": {"messages": [{"role": "user", "content": text}], **body}}


def upload(server: MistralServer, content: bytes, filename: str = "input.jsonl", purpose: str = "batch") -> dict:
    r = httpx.post(server.url + FILES_PATH, headers=AUTH, files={"file": (filename, content)},
                   data={"purpose": purpose}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def create_job(server: MistralServer, body: Any) -> httpx.Response:
    return httpx.post(server.url + BATCH_PATH, json=body, headers=AUTH, timeout=5)


def new_job(server: MistralServer, **body: Any) -> dict:
    r = create_job(server, {"endpoint": CHAT_PATH, "model": "mistral-small-latest", **body})
    assert r.status_code == 200, r.text
    return r.json()


def poll(server: MistralServer, job_id: str) -> dict:
    r = httpx.get(f"{server.url}{BATCH_PATH}/{job_id}", headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def finished(server: MistralServer, job_id: str) -> dict:
    for _ in range(server.batch_polls + 2):
        job = poll(server, job_id)
    assert job["status"] in ("SUCCESS", "FAILED"), job
    return job


def download(server: MistralServer, file_id: str) -> httpx.Response:
    return httpx.get(f"{server.url}{FILES_PATH}/{file_id}/content", headers=AUTH, timeout=5)


def result_lines(server: MistralServer, file_id: str) -> dict[str, dict]:
    """A result file's lines by custom_id."""
    rows = [json.loads(row) for row in download(server, file_id).content.splitlines()]
    return {row["custom_id"]: row for row in rows}


def detail_of(r: httpx.Response) -> list[dict]:
    assert r.status_code == 422, r.text
    return r.json()["message"]["detail"]


def test_upload_then_get_and_download_the_same_bytes(server: MistralServer) -> None:
    content = jsonl(line("a", "héllo"), line("b", "two")) + b"\r\n\xff raw bytes stay as sent\r\n"
    card = upload(server, content, filename="dataset.jsonl")
    assert UUID.fullmatch(card["id"]) and isinstance(card["created_at"], int)
    assert {k: v for k, v in card.items() if k not in ("id", "created_at")} == {
        "object": "file", "bytes": len(content), "filename": "dataset.jsonl", "purpose": "batch",
        "sample_type": "batch_request", "source": "upload", "num_lines": 3}
    assert httpx.get(f"{server.url}{FILES_PATH}/{card['id']}", headers=AUTH).json() == card
    r = download(server, card["id"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.content == content == server.files[card["id"]].content
    listed = httpx.get(server.url + FILES_PATH, headers=AUTH).json()
    assert listed == {"object": "list", "data": [card], "total": 1}
    for purpose in ("fine-tune", "ocr"):
        assert upload(server, b"%PDF", filename="scan.pdf", purpose=purpose)["num_lines"] is None


@pytest.mark.parametrize(("method", "path"), [
    ("POST", FILES_PATH), ("GET", FILES_PATH), ("GET", f"{FILES_PATH}/{UNKNOWN_ID}"),
    ("GET", f"{FILES_PATH}/{UNKNOWN_ID}/content"), ("POST", BATCH_PATH), ("GET", BATCH_PATH),
    ("GET", f"{BATCH_PATH}/{UNKNOWN_ID}"), ("POST", f"{BATCH_PATH}/{UNKNOWN_ID}/cancel"),
])
def test_files_and_batch_routes_need_the_key(server: MistralServer, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-secret-key"}):
        r = httpx.request(method, server.url + path, headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["message"] == "Unauthorized"
        assert "wrong-secret-key" not in r.text
    assert not server.files and not server.batch_jobs


def test_path_routes_keep_404_and_405(server: MistralServer) -> None:
    assert httpx.delete(f"{server.url}{FILES_PATH}/{UNKNOWN_ID}", headers=AUTH).json() == {
        "detail": "Method Not Allowed"}
    assert httpx.get(f"{server.url}{BATCH_PATH}/{UNKNOWN_ID}/cancel", headers=AUTH).status_code == 405
    assert httpx.get(f"{server.url}{FILES_PATH}/a/b/content", headers=AUTH).json() == {"detail": "Not Found"}


@pytest.mark.parametrize(("files", "loc", "type_"), [
    ({"purpose": (None, "batch")}, ["body", "file"], "missing"),
    ({"file": ("in.jsonl", b"{}")}, ["body", "purpose"], "missing"),
    ({"file": (None, "not a file"), "purpose": (None, "batch")}, ["body", "file"], "value_error"),
    ({"file": ("in.jsonl", b"{}"), "purpose": (None, "training")}, ["body", "purpose"], "enum"),
])
def test_upload_schema_faults_are_422(server: MistralServer, files: dict, loc: list, type_: str) -> None:
    r = httpx.post(server.url + FILES_PATH, headers=AUTH, files=files, timeout=5)
    assert [(d["loc"], d["type"]) for d in detail_of(r)] == [(loc, type_)]
    assert not server.files


def test_job_from_a_file_progresses_as_it_is_polled(server: MistralServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "batch_polls", 3)
    file_id = upload(server, jsonl(*(line(f"row-{i}", f"question {i}") for i in range(8))))["id"]
    job = new_job(server, input_files=[file_id], metadata={"dataset": "demo"}, timeout_hours=2)
    assert UUID.fullmatch(job["id"]) and job["object"] == "batch"
    assert {k: job[k] for k in ("status", "input_files", "endpoint", "model", "metadata", "total_requests",
                                "completed_requests", "started_at", "output_file", "error_file", "errors")} == {
        "status": "QUEUED", "input_files": [file_id], "endpoint": CHAT_PATH, "model": "mistral-small-latest",
        "metadata": {"dataset": "demo"}, "total_requests": 8, "completed_requests": 0, "started_at": None,
        "output_file": None, "error_file": None, "errors": []}
    polls = [poll(server, job["id"]) for _ in range(6)]
    assert [p["status"] for p in polls] == ["QUEUED", "RUNNING", "RUNNING", "RUNNING", "SUCCESS", "SUCCESS"]
    assert [p["completed_requests"] for p in polls] == [0, 2, 4, 6, 8, 8]
    assert [p["succeeded_requests"] for p in polls] == [0, 2, 4, 6, 8, 8]
    assert polls[0]["started_at"] is None and polls[1]["started_at"] is not None
    assert polls[3]["completed_at"] is None and polls[4]["completed_at"] >= polls[4]["started_at"]
    done = polls[-1]
    assert done["failed_requests"] == 0 and done["error_file"] is None and UUID.fullmatch(done["output_file"])
    output = httpx.get(f"{server.url}{FILES_PATH}/{done['output_file']}", headers=AUTH).json()
    assert {k: output[k] for k in ("purpose", "sample_type", "source", "num_lines")} == {
        "purpose": "batch", "sample_type": "batch_result", "source": "mistral", "num_lines": 8}


def test_output_lines_hold_the_echo_replies(server: MistralServer) -> None:
    rows = [line("first", "hello there"), line("second", "what now", model="mistral-large-latest", stream=True)]
    job = finished(server, new_job(server, input_files=[upload(server, jsonl(*rows))["id"]])["id"])
    by_id = result_lines(server, job["output_file"])
    assert set(by_id) == {"first", "second"}
    for custom_id, text, model in [("first", "hello there", "mistral-small-latest"),
                                   ("second", "what now", "mistral-large-latest")]:
        row = by_id[custom_id]
        assert UUID.fullmatch(row["id"]) and row["error"] is None and row["response"]["status_code"] == 200
        body = row["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == model
        assert body["choices"][0]["message"]["content"] == f"Echo: {text}"
        assert body["usage"]["prompt_tokens"] == len(text.split())


def test_invalid_lines_land_in_the_error_file(server: MistralServer) -> None:
    rows = [line("ok", "fine"), line("bad-model", "x", model="no-such-model"), line("extra", "x", seed=1),
            "not a request"]
    job = finished(server, new_job(server, input_files=[upload(server, jsonl(*rows))["id"]])["id"])
    assert job["status"] == "SUCCESS"
    assert (job["total_requests"], job["completed_requests"], job["succeeded_requests"], job["failed_requests"]) == (
        4, 4, 1, 3)
    assert set(result_lines(server, job["output_file"])) == {"ok"}
    errors = result_lines(server, job["error_file"])
    assert set(errors) == {"bad-model", "extra", None}
    assert errors["bad-model"]["response"] == {"status_code": 400, "body": {
        "object": "error", "message": "Invalid model: no-such-model", "type": "invalid_model", "param": None,
        "code": "1500"}}
    assert errors["extra"]["response"]["status_code"] == 422
    assert errors["extra"]["response"]["body"]["message"]["detail"][0]["loc"] == ["body", "seed"]
    assert errors[None]["response"]["status_code"] == 400 and "Line 4" in errors[None]["response"]["body"]["message"]
    assert all(row["error"] is None for row in errors.values())


def test_inline_requests(server: MistralServer) -> None:
    job = new_job(server, requests=[line("q1", "one"), {"body": {"messages": [{"role": "user", "content": "two"}]}}])
    assert job["input_files"] == [] and job["total_requests"] == 2
    done = finished(server, job["id"])
    replies = {cid: row["response"]["body"]["choices"][0]["message"]["content"]
               for cid, row in result_lines(server, done["output_file"]).items()}
    assert replies == {"q1": "Echo: one", None: "Echo: two"}


def test_list_filters_by_status_and_pages(server: MistralServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "batch_polls", 0)
    ids = [new_job(server, requests=[line(str(i), "hi")], metadata={"n": str(i)})["id"] for i in range(3)]
    finished(server, ids[1])

    def listed(**params: Any) -> dict:
        r = httpx.get(server.url + BATCH_PATH, params=params, headers=AUTH, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    everything = listed()
    assert everything["object"] == "list" and everything["total"] == 3
    assert [job["id"] for job in everything["data"]] == ids[::-1]  # newest first
    assert [job["id"] for job in listed(status="SUCCESS")["data"]] == [ids[1]]
    assert listed(status=["QUEUED", "SUCCESS"])["total"] == 3
    assert listed(status="RUNNING") == {"object": "list", "data": [], "total": 0}
    page = listed(page=1, page_size=1, status="QUEUED")
    assert page["total"] == 2 and [job["id"] for job in page["data"]] == [ids[0]]
    assert [job["id"] for job in listed(order_by="created", page_size=2)["data"]] == ids[:2]
    assert listed(model="mistral-large-latest")["total"] == 0
    assert listed(created_after="2000-01-01T00:00:00Z")["total"] == 3
    assert listed(created_after="2999-01-01T00:00:00")["total"] == 0
    r = httpx.get(server.url + BATCH_PATH, params={"status": "DONE", "page": "x"}, headers=AUTH)
    assert sorted(d["loc"][1] for d in detail_of(r)) == ["page", "status"]


def test_cancel_then_cancelled_on_the_next_poll(server: MistralServer) -> None:
    job = new_job(server, requests=[line("a", "hi")])
    url = f"{server.url}{BATCH_PATH}/{job['id']}/cancel"
    assert poll(server, job["id"])["status"] == "QUEUED"
    assert httpx.post(url, headers=AUTH).json()["status"] == "CANCELLATION_REQUESTED"
    assert httpx.post(url, headers=AUTH).json()["status"] == "CANCELLATION_REQUESTED"
    cancelled = poll(server, job["id"])
    assert cancelled["status"] == "CANCELLED" and cancelled["completed_at"] is not None
    assert cancelled["output_file"] is None and cancelled["completed_requests"] == 0
    assert httpx.post(url, headers=AUTH).json() == cancelled == poll(server, job["id"])


def test_cancelling_a_finished_job_leaves_it_unchanged(server: MistralServer) -> None:
    job = finished(server, new_job(server, requests=[line("a", "hi")])["id"])
    r = httpx.post(f"{server.url}{BATCH_PATH}/{job['id']}/cancel", headers=AUTH)
    assert r.status_code == 200 and r.json() == job


def test_fail_hook_makes_the_next_job_fail(server: MistralServer) -> None:
    server.batch_fail_next = True
    failed = finished(server, new_job(server, requests=[line("a", "hi")])["id"])
    assert failed["status"] == "FAILED" and failed["errors"] == [{"message": "Batch job failed", "count": 1}]
    assert failed["output_file"] is None and failed["error_file"] is None
    assert finished(server, new_job(server, requests=[line("a", "hi")])["id"])["status"] == "SUCCESS"
    server.batch_fail_next = "Input file is malformed"
    assert finished(server, new_job(server, requests=[line("a", "hi")])["id"])["errors"] == [
        {"message": "Input file is malformed", "count": 1}]


@pytest.mark.parametrize("path", [f"{FILES_PATH}/{UNKNOWN_ID}", f"{FILES_PATH}/{UNKNOWN_ID}/content",
                                  f"{BATCH_PATH}/{UNKNOWN_ID}", f"{BATCH_PATH}/{UNKNOWN_ID}/cancel"])
def test_unknown_ids_are_404_and_malformed_ids_422(server: MistralServer, path: str) -> None:
    method = "POST" if path.endswith("/cancel") else "GET"
    r = httpx.request(method, server.url + path, headers=AUTH)
    assert r.status_code == 404
    assert r.json()["object"] == "error" and UNKNOWN_ID in r.json()["message"]
    bad = httpx.request(method, server.url + path.replace(UNKNOWN_ID, "not-a-uuid"), headers=AUTH)
    assert detail_of(bad)[0]["type"] == "uuid_parsing" and detail_of(bad)[0]["loc"][0] == "path"


def test_job_over_an_unknown_file_is_404(server: MistralServer) -> None:
    r = create_job(server, {"endpoint": CHAT_PATH, "input_files": [UNKNOWN_ID]})
    assert r.status_code == 404 and UNKNOWN_ID in r.json()["message"]
    assert not server.batch_jobs


@pytest.mark.parametrize(("body", "loc", "type_"), [
    ({"requests": [line("a", "x")]}, ["body", "endpoint"], "missing"),
    ({"endpoint": "/v1/chat", "requests": [line("a", "x")]}, ["body", "endpoint"], "enum"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")], "priority": 1}, ["body", "priority"], "extra_forbidden"),
    ({"endpoint": CHAT_PATH}, ["body"], "value_error"),
    ({"endpoint": CHAT_PATH, "input_files": [UNKNOWN_ID], "requests": [line("a", "x")]}, ["body"], "value_error"),
    ({"endpoint": CHAT_PATH, "input_files": ["file-1"]}, ["body", "input_files", 0], "uuid_parsing"),
    ({"endpoint": CHAT_PATH, "requests": [{"custom_id": "a"}]}, ["body", "requests", 0, "body"], "missing"),
    ({"endpoint": CHAT_PATH, "requests": {"a": 1}}, ["body", "requests"], "list_type"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")], "model": 7}, ["body", "model"], "string_type"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")], "metadata": {"k" * 33: "v"}},
     ["body", "metadata", "k" * 33, "[key]"], "string_too_long"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")], "metadata": {"k": ""}},
     ["body", "metadata", "k"], "string_too_short"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")], "timeout_hours": "24"}, ["body", "timeout_hours"],
     "int_type"),
    ({"endpoint": CHAT_PATH, "requests": [line("a", "x")] * 10_001}, ["body", "requests"], "too_long"),
    ([], ["body"], "model_attributes_type"),
])
def test_job_schema_faults_are_422(server: MistralServer, body: Any, loc: list, type_: str) -> None:
    r = create_job(server, body)
    assert r.json()["type"] == "invalid_request_error"
    assert [(d["loc"], d["type"]) for d in detail_of(r)] == [(loc, type_)]
    assert not server.batch_jobs


def test_job_faults_past_the_schema_are_400(server: MistralServer) -> None:
    tune = upload(server, jsonl(line("a", "x")), purpose="fine-tune")["id"]
    r = create_job(server, {"endpoint": CHAT_PATH, "input_files": [tune]})
    assert r.status_code == 400 and "purpose fine-tune" in r.json()["message"]
    r = create_job(server, {"endpoint": CHAT_PATH, "model": "no-such-model", "requests": [line("a", "x")]})
    assert r.status_code == 400 and r.json()["type"] == "invalid_model"
    r = create_job(server, {"endpoint": "/v1/ocr", "requests": [line("a", "x")]})
    assert r.status_code == 400 and "not emulated" in r.json()["message"]
    assert not server.batch_jobs


def test_reset_forgets_files_and_jobs(server: MistralServer) -> None:
    job = new_job(server, input_files=[upload(server, jsonl(line("a", "x")))["id"]])
    server.batch_fail_next = True
    server.reset()
    assert not server.files and not server.batch_jobs and server.batch_fail_next is False
    assert httpx.get(f"{server.url}{BATCH_PATH}/{job['id']}", headers=AUTH).status_code == 404
