"""``--tools`` in a real IPython shell, and tool schemas from hints and docstrings."""

from __future__ import annotations

import json
import re

import pytest

from mistral_magic.tools import Toolbox, tool_spec

import mistral_server as ms
from helpers import (
    TOOLS,
    assert_refused_before_sending,
    call,
    chat_bodies,
    error_line,
    final_html,
    history,
    interrupt_main_after,
    magics_of,
    run,
    run_failing,
)


def test_tools_loop_over_several_rounds_with_a_failing_tool(shell, server):
    run(shell, TOOLS)
    server.enqueue(
        ms.reply(tool_calls=[call("get_weather", "call00001", city="Lyon"),
                             call("get_weather", "call00002", city="Atlantis")]),
        ms.reply("Let me add.", tool_calls=[call("add", "call00003", a=21, b=0.5)]),
        ms.reply("It is 21.5 °C in Lyon; Atlantis is not a city."))
    captured = run(shell, "%%mistral --tools get_weather,add -o answer\nWeather in Lyon and Atlantis?", "c1")
    first, second, third = chat_bodies(server)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["get_weather", "add"]
    assert "tool_choice" not in first and "tool_choice" not in third
    asked = {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}},
        {"id": "call00002", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Atlantis"}'}}]}
    answers = [
        {"role": "tool", "tool_call_id": "call00001", "name": "get_weather",
         "content": '{"city": "Lyon", "temp": 21}'},
        {"role": "tool", "tool_call_id": "call00002", "name": "get_weather",
         "content": '{"error": "ValueError: no such city"}'}]
    assert second["messages"] == [{"role": "user", "content": "Weather in Lyon and Atlantis?"}, asked, *answers]
    assert third["messages"][4:] == [
        {"role": "assistant", "content": "Let me add.", "tool_calls": [
            {"id": "call00003", "type": "function", "function": {"name": "add", "arguments": '{"a":21,"b":0.5}'}}]},
        {"role": "tool", "tool_call_id": "call00003", "name": "add", "content": "21.5"}]
    shown = captured.outputs[-1].data["text/markdown"]
    assert re.match(r'🔧 `get_weather\(city="Lyon"\)` → `\{"city": "Lyon", "temp": 21\}` · \d+ ms  \n'
                    r'🔧 `get_weather\(city="Atlantis"\)` → ⚠ `ValueError: no such city` · \d+ ms\n\n'
                    r"Let me add.\n\n"
                    r'🔧 `add\(a=21, b=0.5\)` → `21.5` · \d+ ms\n\n'
                    r"It is 21.5 °C in Lyon; Atlantis is not a city.\n\n— mistral-small-latest · ", shown)
    assert "<code>get_weather(city=&quot;Lyon&quot;)</code>" in final_html(captured)
    assert shell.user_ns["answer"] == "It is 21.5 °C in Lyon; Atlantis is not a city."
    turn = magics_of(shell).store["default"].turns[0]
    assert [m["role"] for m in turn.messages] == [
        "user", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    assert turn.usage["prompt_tokens"] == sum(len(" ".join(
        m["content"] for m in body["messages"] if m.get("content")).split()) for body in (first, second, third))
    run(shell, "%%mistral\nThanks", "c2")  # the whole exchange is history the API accepts
    assert server.last_body["messages"][:-1] == turn.messages


def test_the_model_is_told_about_bad_calls_and_the_turn_goes_on(shell, server):
    run(shell, TOOLS)
    server.enqueue(ms.reply(tool_calls=[
        {"id": "callbad01", "function": {"name": "nowhere", "arguments": {}}},
        {"id": "callbad02", "function": {"name": "add", "arguments": "{not json"}},
        {"id": "callbad03", "function": {"name": "add", "arguments": {"a": 1}}}]))
    run(shell, "%%mistral --tools add\nAdd")
    contents = [json.loads(m["content"])["error"] for m in server.last_body["messages"] if m["role"] == "tool"]
    assert contents[0] == "LookupError: there is no tool named 'nowhere'; the tools are add"
    assert contents[1].startswith("ValueError: the arguments are not valid JSON (Expecting property name")
    assert contents[2] == "TypeError: add() missing 1 required positional argument: 'b'"


def test_tool_rounds_are_bounded_and_the_last_request_asks_for_an_answer(shell, server):
    run(shell, TOOLS)
    shell.run_line_magic("config", "MistralMagics.max_tool_rounds = 2")
    adding = [ms.reply(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 1}}]) for _ in range(2)]
    server.enqueue(*adding)
    run(shell, "%%mistral --tools add -o answer\nKeep adding", "c1")
    assert [body.get("tool_choice") for body in chat_bodies(server)] == [None, None, "none"]
    assert shell.user_ns["answer"] == "Echo: Keep adding"
    server.reset()
    server.enqueue(*adding, ms.reply(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 1}}]))
    captured, error = run_failing(shell, "%%mistral --tools add\nKeep adding", "c2")
    assert error_line(error) == ("ToolLoopError: the model still called tools after 2 rounds, though asked to "
                                 "answer. Raise MistralMagics.max_tool_rounds, or ask for fewer steps.")
    assert len(chat_bodies(server)) == 3
    assert len(magics_of(shell).store["default"]) == 1  # the first turn only
    assert "⚠ failed: nothing was added to 'default'" in captured.outputs[-1].data["text/markdown"]


def test_interrupting_a_tool_loop_commits_nothing(shell, server):
    run(shell, TOOLS + "\nimport time\ndef slow() -> str:\n    time.sleep(0.2)\n    return 'done'\n")
    server.enqueue(ms.reply(tool_calls=[{"name": "slow", "arguments": {}}]), ms.stall(5, after_chunks=2))
    timer = interrupt_main_after(1.0)
    captured, error = run_failing(shell, "%%mistral --tools slow\nGo")
    timer.join()
    assert error_line(error).startswith("ReplyInterrupted")
    shown = captured.outputs[-1].data["text/markdown"]
    assert "🔧 `slow()` → `done`" in shown and "⚠ interrupted: nothing was added" in shown
    assert history(shell) == []


@pytest.mark.parametrize("setup, line, words", [
    ("", "--tools nowhere", "--tools: no function named nowhere. Define it in a cell first"),
    ("", "--tools ,", "--tools needs the names of functions, separated by commas."),
    ("x = 1", "--tools x", "--tools: x cannot be called; give functions."),
    ("f = lambda a, /: a", "--tools f", "parameter a of f is positional-only"),
    ("météo = lambda: 1", "--tools météo", "météo cannot be a tool name"),
    ("def f(): pass", "--tools f --prefix Hi", "--prefix and --tools do not go together: the prefix must be"),
])
def test_tool_problems_are_usage_errors_before_any_request(shell, server, setup, line, words):
    assert_refused_before_sending(shell, server, setup, line, words)


SCHEMA_SOURCES = """
from enum import Enum
from typing import Annotated, Dict, List, Optional

class Unit(Enum):
    C = "celsius"
    F = "fahrenheit"

def numpy_style(cities: List[str], unit: Unit, limit: Optional[int] = None, *args, **kwargs) -> None:
    \"\"\"Weather for several cities.

    Parameters
    ----------
    cities : list of str
        The cities, by name,
        in any order.
    unit : Unit
        The unit.

    Returns
    -------
    None
    \"\"\"

def sphinx_style(scores: Dict[str, float], note: Annotated[str, "Free text."] = "", when=None):
    \"\"\"Score cities.
    :param scores: Score by city.
    :param note: Ignored here.
    \"\"\"
"""


def test_tool_schemas_come_from_hints_and_docstrings():
    namespace: dict = {}
    exec(SCHEMA_SOURCES, namespace)
    assert tool_spec("numpy_style", namespace["numpy_style"])["function"] == {
        "name": "numpy_style", "description": "Weather for several cities.",
        "parameters": {"type": "object", "required": ["cities", "unit"], "properties": {
            "cities": {"type": "array", "items": {"type": "string"},
                       "description": "The cities, by name, in any order."},
            "unit": {"enum": ["celsius", "fahrenheit"], "description": "The unit."},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}}}}
    assert tool_spec("score", namespace["sphinx_style"])["function"] == {
        "name": "score", "description": "Score cities.",
        "parameters": {"type": "object", "required": ["scores"], "properties": {
            "scores": {"type": "object", "additionalProperties": {"type": "number"},
                       "description": "Score by city."},
            "note": {"type": "string", "description": "Free text.", "default": ""},
            "when": {"default": None}}}}


def test_a_tool_result_that_json_cannot_hold_is_sent_as_text():
    import datetime

    toolbox = Toolbox({"today": lambda: {"day": datetime.date(2026, 1, 2)}})
    ran = toolbox.run({"id": "abcdefghi", "function": {"name": "today", "arguments": ""}})
    assert ran.message == {"role": "tool", "tool_call_id": "abcdefghi", "name": "today",
                           "content": '{"day": "2026-01-02"}'}
