"""``--schema`` in a real IPython shell: the schema sent, the reply checked against it, what the user sees."""

from __future__ import annotations

import sys

import pytest
from IPython.core.error import UsageError

import mistral_server as ms
from helpers import assert_refused_before_sending, error_line, history, run, run_failing

CITY = {"type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"]}


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
    _, error = run_failing(shell, "%%mistral --schema city_schema\nThe largest city?")
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
    # Strict, as Mistral's client sends a pydantic class: no property the class does not have.
    assert schema == {"name": "City", "schema": {**shell.user_ns["City"].model_json_schema(),
                                                 "additionalProperties": False}, "strict": True}
    _, error = run_failing(shell, "%%mistral --schema City -o city\nAgain?")
    assert error_line(error).startswith("ReplyValidationError: the reply does not match the schema City: "
                                        "population: Input should be a valid integer")
    assert shell.user_ns["city"] == '{"name": "Lyon", "population": "half a million"}'


def test_dict_schemas_need_jsonschema_and_say_so(shell, server, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    shell.user_ns["city_schema"] = CITY
    with pytest.raises(UsageError, match="needs jsonschema: pip install jsonschema, or give a pydantic"):
        shell.run_cell_magic("mistral", "--schema city_schema", "hi")
    assert server.requests == []


@pytest.mark.parametrize("setup, line, words", [
    ("", "--schema nowhere", "--schema: no variable named nowhere. Define a JSON-schema dict"),
    ("x = [1]", "--schema x", "--schema: x is a list; give a JSON-schema dict or a pydantic model class."),
    ("x = {'type': 12}", "--schema x", "--schema: x is not a valid JSON schema: 12 is not valid under"),
    ("x = {}", "--schema x --json", "--json and --schema do not go together: --schema already asks for JSON."),
])
def test_schema_problems_are_usage_errors_before_any_request(shell, server, setup, line, words):
    assert_refused_before_sending(shell, server, setup, line, words)
