"""``--vars`` in a real IPython shell: names filled from the user's variables, braces literal otherwise."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError

from helpers import run


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
