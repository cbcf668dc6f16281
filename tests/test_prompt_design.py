"""Prompt design in a real IPython shell against the loopback server.

Dry runs, --vars, --json and --schema, --tools and --compare: what the server
received and what the user sees.
"""

from __future__ import annotations

import json
import re
import sys
import time

import nbformat
import pytest
from IPython.core.error import UsageError
from nbclient import NotebookClient

import mistral_server as ms
from conftest import interrupt_main_after
from mistral_magic.tools import Toolbox, tool_spec
from test_magics import final_html, history, run, run_failing
from test_notebooks import NOTEBOOKS, SECRET, kernel_env  # noqa: F401 (a fixture)

CITY = {"type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"]}

TOOLS = '''
from typing import Literal

def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Current weather for a city.

    Args:
        city: Name of the city, such as Lyon.
        unit: Celsius or Fahrenheit.
    """
    if city == "Atlantis":
        raise ValueError("no such city")
    return {"city": city, "temp": 21}

def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b
'''


def chat_bodies(server) -> list[dict]:
    return [r.body for r in server.requests if r.path == "/v1/chat/completions"]


def error_line(error) -> str:
    lines = error._render_traceback_() if hasattr(error, "_render_traceback_") else [str(error)]
    assert len(lines) == 1, lines
    return lines[0]


def call(name: str, call_id: str, **arguments) -> dict:
    return {"id": call_id, "function": {"name": name, "arguments": arguments}}


# --------------------------------------------------------------------------- dry run


def test_dry_run_shows_the_exact_body_without_the_key_and_sends_nothing(shell, server, monkeypatch):
    run(shell, "%%mistral --role system\nBe brief.")
    with monkeypatch.context() as patch:
        patch.setenv("MISTRAL_API_KEY", "sk-dry-run-secret-42")
        captured = run(shell, "%%mistral --dry-run -t 0.2 --stop END -o body\nHello {there}")
    assert server.requests == []
    body = shell.user_ns["body"]
    assert body == {"model": "mistral-small-latest", "temperature": 0.2, "stop": ["END"], "stream": True,
                    "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hello {there}"}]}
    shown = captured.outputs[-1].data["text/markdown"]
    assert shown.startswith("**Dry run**: nothing was sent.")
    assert "```json\n" + json.dumps(body, indent=2) + "\n```" in shown
    assert "sk-dry-run" not in repr(captured.outputs) and history(shell) == ["Be brief."]
    run(shell, "%%mistral -t 0.2 --stop END\nHello {there}")
    assert server.last_body == body  # what the dry run showed is what a send posts


def test_dry_run_needs_no_key_and_shows_every_combination_and_the_tools(shell, server, monkeypatch):
    monkeypatch.delenv("MISTRAL_API_KEY")
    run(shell, TOOLS)
    run(shell, "%%mistral --dry-run --compare -m mistral-small-latest,mistral-large-latest --tools add -o bodies\n"
               "1 + 1?")
    bodies = shell.user_ns["bodies"]
    assert [body["model"] for body in bodies] == ["mistral-small-latest", "mistral-large-latest"]
    assert bodies[0]["tools"][0]["function"]["name"] == "add" and server.requests == []


def test_a_prompt_with_backtick_fences_stays_inside_the_shown_body(shell, server):
    captured = run(shell, "%%mistral --dry-run\n```python\nprint(1)\n```")
    assert "<pre><code class=\"language-json\">" in final_html(captured)
    assert "<code class=\"language-python\">" not in final_html(captured)


# --------------------------------------------------------------------------- templating


def test_vars_fill_names_and_braces_stay_literal_without_it(shell, server):
    shell.user_ns.update(city="Lyon", days=3)
    run(shell, "%%mistral --vars\nWeather in {city} for {days} days? Answer as {{\"temp\": n}}.")
    assert server.last_body["messages"][-1]["content"] == 'Weather in Lyon for 3 days? Answer as {"temp": n}.'
    run(shell, "%%mistral\ndef f(): return {city}")
    assert server.last_body["messages"][-1]["content"] == "def f(): return {city}"


def test_vars_fill_the_system_message_too(shell, server):
    shell.user_ns["persona"] = "a cheesemonger"
    run(shell, "%%mistral --role system --vars\nYou are {persona}.")
    run(shell, "%%mistral\nHello")
    assert server.last_body["messages"][0] == {"role": "system", "content": "You are a cheesemonger."}


@pytest.mark.parametrize("body, words", [
    ("{city} near {nowhere}, {nothing} and {nowhere}", "--vars: no variable named nowhere, nothing. Define them"),
    ("{city.upper} and {rows[0]}", "--vars fills plain names only, not {city.upper}, {rows[0]}: put the value"),
    ("{city:>10} {city!r}", "not {city:>10}, {city!r}"),
    ("{}", "not {}"),
    ('{"a": 1}', 'not {"a": 1}'),
    ("a } b", "--vars cannot read the cell (Single '}' encountered in format string): write {{ and }}"),
])
def test_vars_problems_are_usage_errors_before_any_request(shell, server, body, words):
    shell.user_ns["city"] = "Lyon"
    with pytest.raises(UsageError, match=re.escape(words)):
        shell.run_cell_magic("mistral", "--vars", body)
    assert server.requests == []


# --------------------------------------------------------------------------- structured output


def test_schema_dict_is_sent_and_the_validated_reply_goes_to_out(shell, server):
    shell.user_ns["city_schema"] = CITY
    server.enqueue(ms.reply('{"name": "Lyon", "population": 522250}'))
    run(shell, "%%mistral --schema city_schema -o city\nThe largest city on the Rhône?")
    assert server.last_body["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "city_schema", "schema": CITY, "strict": True}}
    assert shell.user_ns["city"] == {"name": "Lyon", "population": 522250}


def test_a_reply_that_does_not_match_is_an_error_that_keeps_the_text(shell, server):
    shell.user_ns["city_schema"] = CITY
    text = '{"name": "Lyon", "population": "half a million"}'
    server.enqueue(ms.reply(text))
    captured, error = run_failing(shell, "%%mistral --schema city_schema -o city\nThe largest city?", "c1")
    assert error_line(error) == (
        "ReplyValidationError: the reply does not match the schema city_schema: population: 'half a million' "
        "is not of type 'integer'. Its text stays above and in city.")
    assert error.text == text and shell.user_ns["city"] == text
    assert "half a million" in captured.outputs[-1].data["text/markdown"]
    assert history(shell)[-1] == text  # the model did answer: the turn is kept, to be corrected next


def test_a_reply_that_is_not_json_fails_a_schema(shell, server):
    shell.user_ns["city_schema"] = CITY
    server.enqueue(ms.reply("Lyon, about half a million."))
    captured, error = run_failing(shell, "%%mistral --schema city_schema\nThe largest city?")
    assert error_line(error).startswith("ReplyValidationError: the reply does not match the schema "
                                        "city_schema: it is not JSON (Expecting value")


def test_schema_from_a_pydantic_class_gives_an_instance(shell, server):
    pytest.importorskip("pydantic")
    run(shell, "from pydantic import BaseModel\nclass City(BaseModel):\n    name: str\n    population: int")
    server.enqueue(ms.reply('{"name": "Lyon", "population": 522250}'),
                   ms.reply('{"name": "Lyon", "population": "half a million"}'))
    run(shell, "%%mistral --schema City -o city\nThe largest city on the Rhône?")
    city = shell.user_ns["city"]
    assert type(city) is shell.user_ns["City"] and (city.name, city.population) == ("Lyon", 522250)
    schema = server.last_body["response_format"]["json_schema"]
    assert schema == {"name": "City", "schema": shell.user_ns["City"].model_json_schema(), "strict": True}
    captured, error = run_failing(shell, "%%mistral --schema City -o city\nAgain?")
    assert error_line(error).startswith("ReplyValidationError: the reply does not match the schema City: "
                                        "population: Input should be a valid integer")
    assert shell.user_ns["city"] == '{"name": "Lyon", "population": "half a million"}'


def test_dict_schemas_need_jsonschema_and_say_so(shell, server, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    shell.user_ns["city_schema"] = CITY
    with pytest.raises(UsageError, match="needs jsonschema: pip install jsonschema, or give a pydantic"):
        shell.run_cell_magic("mistral", "--schema city_schema", "hi")
    assert server.requests == []


# --------------------------------------------------------------------------- tools


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
    turn = shell.magics_manager.registry["MistralMagics"].store["default"].turns[0]
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
    assert len(shell.magics_manager.registry["MistralMagics"].store["default"]) == 1  # the first turn only
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
    ("", "--schema nowhere", "--schema: no variable named nowhere. Define a JSON-schema dict"),
    ("x = [1]", "--schema x", "--schema: x is a list; give a JSON-schema dict or a pydantic model class."),
    ("x = {'type': 12}", "--schema x", "--schema: x is not a valid JSON schema: 12 is not valid under"),
    ("x = {}", "--schema x --json", "--json and --schema do not go together: --schema already asks for JSON."),
    ("", "--tools nowhere", "--tools: no function named nowhere. Define it in a cell first"),
    ("", "--tools ,", "--tools needs the names of functions, separated by commas."),
    ("x = 1", "--tools x", "--tools: x cannot be called; give functions."),
    ("f = lambda a, /: a", "--tools f", "parameter a of f is positional-only"),
    ("météo = lambda: 1", "--tools météo", "météo cannot be a tool name"),
    ("def f(): pass", "--tools f --prefix Hi", "--prefix and --tools do not go together: the prefix must be"),
])
def test_schema_and_tool_problems_are_usage_errors_before_any_request(shell, server, setup, line, words):
    run(shell, setup)
    with pytest.raises(UsageError, match=re.escape(words)):
        shell.run_cell_magic("mistral", line, "hi")
    assert server.requests == []


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
    exec(SCHEMA_SOURCES, namespace)  # as a notebook cell defines them
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


# --------------------------------------------------------------------------- compare


def test_compare_streams_each_combination_into_one_grid_and_records_each(shell, server):
    run(shell, "%%mistral\nBefore", "c0")
    server.reset()
    captured = run(shell, "%%mistral --compare -m mistral-small-latest,mistral-nope -t 0,0.7 -o runs\n"
                          "Name a cheese.", "c1")
    bodies = chat_bodies(server)
    assert sorted((b["model"], b["temperature"]) for b in bodies) == [
        ("mistral-nope", 0.0), ("mistral-nope", 0.7), ("mistral-small-latest", 0.0), ("mistral-small-latest", 0.7)]
    assert all([m["content"] for m in b["messages"]] == ["Before", "Echo: Before", "Name a cheese."] for b in bodies)
    failed = ("APIStatusError: Mistral API answered 400 Bad Request: Invalid model: mistral-nope. "
              "List the models your key can use with %mistral_models.")
    runs = shell.user_ns["runs"]
    assert [{k: v for k, v in r.items() if k != "usage"} for r in runs] == [
        {"model": "mistral-small-latest", "temperature": 0.0, "text": "Echo: Name a cheese.", "error": None},
        {"model": "mistral-small-latest", "temperature": 0.7, "text": "Echo: Name a cheese.", "error": None},
        {"model": "mistral-nope", "temperature": 0.0, "text": "", "error": failed},
        {"model": "mistral-nope", "temperature": 0.7, "text": "", "error": failed}]
    assert runs[0]["usage"]["completion_tokens"] == 4 and runs[2]["usage"] is None
    assert len({output.transient["display_id"] for output in captured.outputs}) == 1
    assert len(captured.outputs) <= 6 and all(output.update for output in captured.outputs[1:])
    grid = final_html(captured)
    assert grid.count('<div class="mistral-reply">') == 4 and grid.count("<p>Echo: Name a cheese.</p>") == 2
    for label in ("mistral-small-latest · temperature 0<", "mistral-nope · temperature 0.7<"):
        assert label in grid
    assert grid.count("⚠ " + failed) == 2 and grid.count("out tokens · first token") == 2
    assert history(shell) == ["Before", "Echo: Before"]  # compare adds no turn


def test_columns_stream_at_the_same_time(shell, server):
    slow = ["one ", "two ", "three"]
    server.enqueue(ms.reply(chunks=slow, delay=0.3), ms.reply(chunks=slow, delay=0.3))
    started = time.monotonic()
    captured = run(shell, "%%mistral --compare -m mistral-small-latest,mistral-large-latest\nCount")
    assert time.monotonic() - started < 1.6  # each reply takes 0.9 s
    partial = [output.data["text/plain"] for output in captured.outputs if "one two" in output.data["text/plain"]
               and "three" not in output.data["text/plain"]]
    assert partial, "the grid should show replies while they stream"
    assert final_html(captured).count("<p>one two three</p>") == 2


def test_compare_prints_each_column_in_a_terminal(shell, server):
    shell.run_line_magic("config", "MistralMagics.output = 'text'")
    captured = run(shell, "%%mistral --compare --random-seed 1,2\nHi")
    assert captured.outputs == []
    assert captured.stdout.startswith("[mistral-small-latest · random_seed 1]\nEcho: Hi\n— mistral-small-latest")
    assert "\n\n[mistral-small-latest · random_seed 2]\nEcho: Hi\n" in captured.stdout


def test_interrupting_a_comparison_stops_every_column(shell, server):
    server.enqueue(ms.stall(3, after_chunks=2), ms.stall(3, after_chunks=2))
    timer = interrupt_main_after(0.5)
    started = time.monotonic()
    captured, error = run_failing(shell, "%%mistral --compare -t 0.1,0.2\nhi")
    timer.join()
    assert time.monotonic() - started < 2
    assert error_line(error) == "ReplyInterrupted: the comparison was interrupted; what arrived stays above."
    grid = final_html(captured)
    assert grid.count("⚠ interrupted") == 2 and grid.count("partial reply") == 2
    assert history(shell) == []


@pytest.mark.parametrize("line, words", [
    ("-t 0,0.7", "--temperature got several values: add --compare to run each side by side."),
    ("-m a,b --top-p 0.1,0.2", "--model, --top-p got several values"),
    ("--compare -t 0.5", "--compare needs several comma-separated values of a setting"),
    ("--compare -t 0,,1", "'0,,1' has an empty value between commas"),
    ("--compare -t 0,9", "-t/--temperature: 9 is outside the allowed range 0 to 1.5"),
    ("--dry-run --new", "--dry-run and --new do not go together: a dry run changes nothing"),
])
def test_compare_problems_are_usage_errors_before_any_request(shell, server, line, words):
    with pytest.raises(UsageError, match=re.escape(words)):
        shell.run_cell_magic("mistral", line, "hi")
    assert server.requests == []


# --------------------------------------------------------------------------- the notebook


NOTEBOOK_SCRIPTS = {  # what a real model would do in the cells where the echo cannot show it
    "--schema Species -o gentoo": [ms.reply('{"name": "Gentoo", "island": "Biscoe", "body_mass_g": 5076}')],
    "--tools penguin_count": [
        ms.reply(tool_calls=[call("penguin_count", "count0001", species="Adelie"),
                             call("penguin_count", "count0002", species="Gentoo")]),
        ms.reply(tool_calls=[call("penguin_count", "count0003", species="Adelie", island="Dream"),
                             call("penguin_count", "count0004", species="Adelie", island="Mars")]),
        ms.reply("152 Adelie and 124 Gentoo were measured; 56 Adelie on Dream, and Mars is not in the study.")],
}


def test_prompt_design_notebook_runs_in_a_kernel(kernel_env, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / "prompt-design.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            for marker, scripts in NOTEBOOK_SCRIPTS.items():
                if marker in cell.source:
                    kernel_env.enqueue(*scripts)
            client.execute_cell(cell, index)
    shown = {cell.source.split("\n")[0] + ("" if "\n" not in cell.source else " …"): _shown(cell)
             for cell in notebook.cells if cell.cell_type == "code"}
    errors = [(cell.source.split("\n")[0], output.ename) for cell in notebook.cells
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == [("%%mistral --schema Species --max-tokens 3 -o cut", "ReplyValidationError")]
    assert "the reply does not match the schema Species: Invalid JSON" in shown[errors[0][0] + " …"]
    assert '"max_tokens": 200' in shown["%%mistral --dry-run -t 0.2 --max-tokens 200 …"]
    bodies = chat_bodies(kernel_env)
    assert "The Palmer penguins data set has 344 rows" in bodies[1]["messages"][-1]["content"]
    assert {(b["model"], b.get("temperature")) for b in bodies[2:6]} == {
        (model, t) for model in ("mistral-small-latest", "mistral-large-latest") for t in (0.0, 0.7)}
    assert shown["gentoo"] == "Species(name='Gentoo', island='Biscoe', body_mass_g=5076)"
    tools = shown["%%mistral --tools penguin_count -o answer …"]
    assert ('🔧 `penguin_count(species="Adelie", island="Mars")` → '
            "⚠ `ValueError: no count for Adelie on Mars`") in tools
    assert "Mars is not in the study." in tools
    history = shown["%mistral_history"]  # the tool calls and their results, as the cell showed them
    assert "**[6] assistant**\n\n🔧 `penguin_count(" in history
    assert ('🔧 `penguin_count(species="Adelie", island="Mars")` → '
            "⚠ `ValueError: no count for Adelie on Mars`") in history
    assert SECRET not in nbformat.writes(notebook)


def _shown(cell) -> str:
    """The text a reader sees under a cell: its last display, streams and errors."""
    texts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type == "error":
            texts.append(f"{output.ename}: {output.evalue}")
        elif output.get("data"):
            texts.append(output.data.get("text/markdown") or output.data.get("text/plain", ""))
    return "\n".join(texts).strip()
