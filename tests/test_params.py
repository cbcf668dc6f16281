"""The parameter table: how settings and a call's own options become a request's, and the base URL."""

from __future__ import annotations

import pytest

from mistral_magic import params
from mistral_magic.magics import MistralMagics
from mistral_magic.params import PARAMETERS, request_options


def test_a_call_sets_what_it_gives_and_the_settings_fill_the_rest():
    settings = {"temperature": 0.7, "max_tokens": 100, "stop": ["###"], "safe_prompt": False}
    options = request_options(settings, {"temperature": 0, "safe_prompt": True, "max_tokens": None,
                                         "response_format": {"type": "json_object"}})
    assert options["temperature"] == 0  # 0 is a value, not "not given"
    assert options["max_tokens"] == 100 and options["stop"] == ["###"] and options["safe_prompt"] is True
    assert options["response_format"] == {"type": "json_object"}  # outside the table: passed through
    assert options["stop"] is not settings["stop"]  # the body never shares the setting's list


def test_what_nothing_sets_is_not_sent():
    options = request_options({"stop": [], "safe_prompt": False}, {"top_p": None})
    assert {name for name, value in options.items() if value is not None} == set()


def test_every_parameter_is_a_trait_and_a_flag():
    flags = {action.dest for action in MistralMagics.mistral.parser._actions}
    traits = set(MistralMagics.class_trait_names())
    assert {parameter.name for parameter in PARAMETERS} <= flags & traits


@pytest.mark.parametrize("text, problem", [("x", "'x' is not a number"),
                                           ("2", "2 is outside the allowed range 0 to 1.5")])
def test_a_number_outside_its_range_is_refused_in_words(text, problem):
    with pytest.raises(ValueError, match=problem):
        PARAMETERS[0].read(text)


def test_the_base_url_comes_from_the_call_then_the_environment_then_mistral(monkeypatch):
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)
    assert params.base_url() == ("https://api.mistral.ai", "the base URL")
    monkeypatch.setenv("MISTRAL_BASE_URL", "http://localhost:8000")
    assert params.base_url() == ("http://localhost:8000", "MISTRAL_BASE_URL")  # named in its errors
    assert params.base_url("http://other:1") == ("http://other:1", "the base URL")
