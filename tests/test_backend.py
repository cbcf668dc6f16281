"""The backend contract: every backend offers all of it, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from mistral_magic.backend import Backend
from mistral_magic.client import MistralClient
from mistral_magic.local import LocalModel
from mistral_magic.router import Router

CONTRACT = [name for name, member in vars(Backend).items() if callable(member) and not name.startswith("_")]


def test_the_contract_is_what_the_front_ends_use():
    assert sorted(CONTRACT) == ["achat", "astream_chat", "chat", "close", "cut_streams", "list_models", "notes",
                                "stream_chat", "wire"]


@pytest.mark.parametrize("backend", [MistralClient, LocalModel, Router])
@pytest.mark.parametrize("name", CONTRACT)
def test_each_backend_offers_the_whole_contract(backend, name):
    promised, offered = getattr(Backend, name), getattr(backend, name)
    assert list(inspect.signature(offered).parameters) == list(inspect.signature(promised).parameters)
    assert inspect.iscoroutinefunction(offered) == inspect.iscoroutinefunction(promised)
