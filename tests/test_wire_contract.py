"""Every body the magics and the Python API send validates against the official client's request models.

A broad set of calls, every flag and option among them, goes to the loopback
server; each chat body it receives is then checked by ``wire_contract`` against
``ChatCompletionRequest`` / ``ChatCompletionStreamRequest`` from ``mistralai``.
"""

from __future__ import annotations

import json

import pytest

from mistral_magic import Mistral

import mistral_server as ms
from helpers import OFFICIAL_CLIENT, call, chat_bodies, run
from wire_contract import assert_valid_chat_request

models = pytest.importorskip("mistralai.client.models", reason=OFFICIAL_CLIENT)
pydantic = pytest.importorskip("pydantic")

CELLS = [
    "%%mistral --role system\nYou answer briefly.",
    "%%mistral -m mistral-large-latest -t 0.3 --top-p 0.9 --max-tokens 50 --random-seed 7\nFirst question",
    "%%mistral --presence-penalty 0.5 --frequency-penalty 0.2 --stop END --stop ###\nSecond question",
    "%%mistral --safe-prompt --no-stream\nThird question",
    "%%mistral --prefix 'Once upon'\nTell a story",
    "%%mistral --json --once\nGive JSON",
    "%%mistral --schema City --once\nA city as JSON",
    "%%mistral --schema city_schema --once\nA city as JSON",
    "%%mistral --tools add --once\nWhat is 2 + 3?",
    "%%mistral --reasoning-effort high --once\nThink hard",
    "%%mistral --context numbers --once\nSum them",
    "%%mistral -c other --new\nA new conversation",
    "%%mistral -m pixtral-large-latest --image https://example.com/cat.png --once\nWhat is this?",
    "%%mistral --compare -t 0,0.7\nCompare",
    "%%mistral --over numbers --json\nJSON about {item}",
]
# Bodies sent: none for the system cell, two each for --tools and --compare, three for --over (one per number).
SENT = len(CELLS) - 1 + 1 + 1 + 2


def test_every_flag_of_the_magics_sends_a_body_the_request_models_accept(shell, server):
    run(shell, "from pydantic import BaseModel\nclass City(BaseModel):\n    name: str\n    population: int")
    shell.user_ns["city_schema"] = {"type": "object", "properties": {"name": {"type": "string"}},
                                    "required": ["name"]}
    shell.user_ns["numbers"] = [1, 2, 3]
    run(shell, "def add(a: float, b: float) -> float:\n    'Add two numbers.'\n    return a + b")
    for cell in CELLS:
        if "--schema City" in cell:
            server.enqueue(ms.reply('{"name": "Lyon", "population": 522000}'))
        elif "--schema city_schema" in cell:
            server.enqueue(ms.reply('{"name": "Lyon"}'))
        elif "--tools" in cell:
            server.enqueue(ms.reply(tool_calls=[call("add", "call00001", a=2, b=3)]), ms.reply("5"))
        run(shell, cell)
    bodies = chat_bodies(server)
    assert len(bodies) == SENT
    for body in bodies:
        assert_valid_chat_request(body)
    given = next(body for body in bodies if "city_schema" in json.dumps(body.get("response_format")))
    assert given["response_format"]["json_schema"]["schema"] == shell.user_ns["city_schema"]  # as given
    pydantic_schema = next(body for body in bodies if "City" in json.dumps(body.get("response_format")))
    assert pydantic_schema["response_format"]["json_schema"]["schema"]["additionalProperties"] is False


def test_the_official_clients_objects_and_call_options_send_valid_bodies(server):
    class Book(pydantic.BaseModel):
        name: str
        authors: list[str]

    tool = models.Tool(function=models.Function(name="add", description="Add two numbers.", parameters={
        "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}))
    server.enqueue(ms.reply(tool_calls=[call("add", "call00001", a=2, b=3)]), ms.reply("5"),
                   ms.reply('{"name": "Dune", "authors": ["Frank Herbert"]}'))
    with Mistral(api_key="test-key", server_url=server.url) as client:
        messages: list = [models.SystemMessage(content="Be brief."), models.UserMessage(content="2 + 3?")]
        first = client.chat.complete(model="mistral-small-latest", messages=messages, tools=[tool],
                                     tool_choice="auto", parallel_tool_calls=True, timeout_ms=5_000,
                                     http_headers={"X-Trace": "1"})
        messages += [first.choices[0].message,
                     models.ToolMessage(content="5", tool_call_id="call00001", name="add")]
        client.chat.complete(model="mistral-small-latest", messages=messages, tools=[tool])
        parsed = client.chat.parse(response_format=Book, model="mistral-small-latest",
                                   messages=[models.UserMessage(content="A book")])
        client.chat.complete(model="mistral-small-latest", messages=[
            models.UserMessage(content=[models.TextChunk(text="Describe"),
                                        models.ImageURLChunk(image_url="https://example.com/cat.png")]),
            models.AssistantMessage(content="It is", prefix=True)],
            prediction=models.Prediction(content="It is a cat"), n=1,
            response_format=models.ResponseFormat(type="json_schema", json_schema=models.JSONSchema(
                name="caption", schema_definition={"type": "object"}, strict=True)))
        for _ in client.chat.stream(model="mistral-small-latest", messages=[{"role": "user", "content": "Hi"}],
                                    stop=["END"], random_seed=1, safe_prompt=False, retries=None):
            pass
    assert parsed.choices[0].message.parsed == Book(name="Dune", authors=["Frank Herbert"])
    bodies = chat_bodies(server)
    assert len(bodies) == 5
    for body in bodies:
        assert_valid_chat_request(body)
    assert bodies[3]["response_format"]["json_schema"]["schema"] == {"type": "object"}  # the wire name
    strict = bodies[2]["response_format"]["json_schema"]
    assert strict["strict"] is True and strict["schema"]["additionalProperties"] is False
    assert strict["name"] == "Book"
    posted = [request for request in server.requests if request.method == "POST"]
    assert posted[0].headers["x-trace"] == "1" and "x-trace" not in posted[1].headers
