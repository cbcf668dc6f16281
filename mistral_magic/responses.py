"""Replies as the official client's response models read them, without building those models.

Code written for ``mistralai`` reads ``response.choices[0].message.content``,
relies on its defaults (``tool_call.type == "function"``, ``usage.total_tokens == 0``)
and expects a misspelt field to fail. The views here give it that over the JSON as
received: each holds one dict of it, reads a field with the client's default when
the server left it out, wraps a nested object only when it is read, and keeps the
JSON itself for ``model_dump()``. Streaming reads a few fields of every chunk, so a
read is one small function over a dict.
"""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Any, Callable, ClassVar, NamedTuple, TypeVar

__all__ = ["completion", "event", "model_card", "model_list"]

_new = object.__new__


class _Nested(NamedTuple):
    """A field whose JSON is read as ``make(value)``, per item if ``many``."""

    make: Any  # a view class, or a function of the JSON value
    many: bool


def _as(make: Any) -> Any:
    """An object read as a view, or a value read through a converter."""
    return _Nested(make, many=False)


def _list_of(make: Any) -> Any:
    """A list read item by item; any other value (content as a string) reads as itself."""
    return _Nested(make, many=True)


class _View:
    """One JSON object read as a model. Subclasses declare their fields as ``name: type = default``."""

    __slots__ = ("_data",)
    _data: dict[str, Any]
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        own = tuple(vars(cls).get("__annotations__", ()))
        for name in own:
            setattr(cls, name, property(_reader(name, vars(cls)[name])))
        cls._fields = tuple(dict.fromkeys(cls._fields + own))

    def __getattr__(self, name: str) -> Any:
        """A key the table does not know reads as itself; any other name fails, suggesting the nearest field."""
        if name.startswith("_"):  # copy and pickle probe for hooks before they set ``_data``
            raise AttributeError(name)
        data = self._data
        if name in data:
            return data[name]
        near = difflib.get_close_matches(name, [*self._fields, *data], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        error = AttributeError(f"{type(self).__name__!r} has no field {name!r}{hint}")
        error.obj = self  # its context set, so Python adds no suggestion of its own
        raise error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _View) or type(other) is not type(self):
            return NotImplemented
        return self._data == other._data

    def __repr__(self) -> str:
        data = self._data
        shown = [f"{name}={getattr(self, name)!r}" for name in self._fields if name in data]
        shown += [f"{key}={value!r}" for key, value in data.items() if key not in self._fields]
        return f"{type(self).__name__}({', '.join(shown)})"

    def model_dump(self, **ignored: Any) -> dict[str, Any]:
        """The JSON as received, copied; the client's options (``by_alias``, ``mode``...) change nothing."""
        return _plain(self._data)  # type: ignore[no-any-return]

    def model_dump_json(self, *, indent: int | None = None, **ignored: Any) -> str:
        """The JSON as received, as text."""
        return json.dumps(self._data, ensure_ascii=False, indent=indent)


def _reader(name: str, spec: Any) -> Callable[[_View], Any]:
    """The getter of one field. Views are built inline: a helper call would cost more than the read."""
    if not isinstance(spec, _Nested):
        return lambda view: view._data.get(name, spec)
    make = spec.make
    if not (isinstance(make, type) and issubclass(make, _View)):
        def convert(view: _View) -> Any:
            value = view._data.get(name)
            if value is None or (spec.many and value.__class__ is not list):
                return value
            return [make(item) for item in value] if spec.many else make(value)
        return convert
    if spec.many:
        def views(view: _View) -> Any:
            value = view._data.get(name)
            if value.__class__ is not list:
                return value
            items = []
            for item in value:
                wrapped = _new(make)
                wrapped._data = item
                items.append(wrapped)
            return items
        return views

    def nested(view: _View) -> Any:
        value = view._data.get(name)
        if value is None:
            return None
        wrapped = _new(make)
        wrapped._data = value
        return wrapped
    return nested


_V = TypeVar("_V", bound=_View)


def _view(cls: type[_V], data: dict[str, Any]) -> _V:
    """A view of ``data`` (which the readers above build inline)."""
    view = _new(cls)
    view._data = data
    return view


def _datetime(text: Any) -> Any:
    """An ISO 8601 time as a ``datetime``, as the client reads it; anything else as itself."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return text


def _plain(value: Any) -> Any:
    """A deep copy of JSON in plain dicts and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# The client's response models: each field with its type, and what it reads when the server leaves it out.


class UsageInfo(_View):
    __slots__ = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_audio_seconds: int | None = None
    service_tier: str | None = None


class FunctionCall(_View):
    __slots__ = ()
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class ToolCall(_View):
    __slots__ = ()
    function: FunctionCall | None = _as(FunctionCall)
    id: str = "null"
    type: str = "function"
    index: int = 0


class ContentChunk(_View):
    """One part of a content list; the keys of other kinds than text (``thinking``, ``image_url``...) read as
    themselves."""

    __slots__ = ()
    type: str | None = None
    text: str | None = None


class AssistantMessage(_View):
    __slots__ = ()
    role: str = "assistant"
    content: str | list[ContentChunk] | None = _list_of(ContentChunk)
    tool_calls: list[ToolCall] | None = _list_of(ToolCall)
    prefix: bool = False

    @property
    def parsed(self) -> Any:
        """What :func:`completion`'s ``parse`` made of the content; None without it."""
        return getattr(self._data, "parsed", None)


class DeltaMessage(_View):
    __slots__ = ()
    role: str | None = None
    content: str | list[ContentChunk] | None = _list_of(ContentChunk)
    tool_calls: list[ToolCall] | None = _list_of(ToolCall)
    tool_call_id: str | None = None
    index: int | None = None
    metadata: dict[str, Any] | None = None


class ChatCompletionChoice(_View):
    __slots__ = ()
    index: int | None = None
    finish_reason: str | None = None
    message: AssistantMessage | None = _as(AssistantMessage)
    messages: list[DeltaMessage] | None = _list_of(DeltaMessage)
    logprobs: dict[str, Any] | None = None
    prompt_logprobs: dict[str, Any] | None = None


class ChatCompletionResponse(_View):
    __slots__ = ()
    id: str | None = None
    object: str | None = None
    model: str | None = None
    usage: UsageInfo | None = _as(UsageInfo)
    created: int | None = None
    choices: list[ChatCompletionChoice] | None = _list_of(ChatCompletionChoice)


class CompletionResponseStreamChoice(_View):
    __slots__ = ()
    index: int | None = None
    delta: DeltaMessage | None = _as(DeltaMessage)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    prompt_logprobs: dict[str, Any] | None = None


class CompletionChunk(_View):
    __slots__ = ()
    id: str | None = None
    model: str | None = None
    choices: list[CompletionResponseStreamChoice] | None = _list_of(CompletionResponseStreamChoice)
    object: str | None = None
    created: int | None = None
    usage: UsageInfo | None = _as(UsageInfo)


class CompletionEvent(_View):
    __slots__ = ()
    data: CompletionChunk | None = _as(CompletionChunk)


class ModelCapabilities(_View):
    __slots__ = ()
    completion_chat: bool = False
    function_calling: bool = False
    reasoning: bool = False
    completion_fim: bool = False
    fine_tuning: bool = False
    vision: bool = False
    ocr: bool = False
    classification: bool = False
    moderation: bool = False
    audio: bool = False
    audio_transcription: bool = False
    audio_transcription_realtime: bool = False
    audio_speech: bool = False
    unified_resources: bool = False


class BaseModelCard(_View):
    __slots__ = ()
    id: str | None = None
    capabilities: ModelCapabilities | None = _as(ModelCapabilities)
    object: str = "model"
    created: int | None = None
    owned_by: str = "mistralai"
    name: str | None = None
    description: str | None = None
    max_context_length: int = 32768
    aliases: list[str] | None = None
    deprecation: datetime | None = _as(_datetime)
    deprecation_replacement_model: str | None = None
    default_model_temperature: float | None = None
    internal: bool = False
    billing_model_name: str | None = None
    type: str = "base"
    audio_transcription_capabilities: Any = None
    audio_speech_capabilities: Any = None


class FTModelCard(BaseModelCard):
    """A fine-tuned model's card. A subclass here (not in the client), so either card is a ``BaseModelCard``."""

    __slots__ = ()
    job: str | None = None
    root: str | None = None
    archived: bool = False
    type: str = "fine-tuned"


def model_card(data: dict[str, Any]) -> BaseModelCard:
    """A model's card: an :class:`FTModelCard` when its ``type`` is ``fine-tuned``."""
    return _view(FTModelCard if data.get("type") == "fine-tuned" else BaseModelCard, data)


class ModelList(_View):
    __slots__ = ()
    object: str = "list"
    data: list[BaseModelCard] | None = _list_of(model_card)


def completion(data: dict[str, Any], parse: Callable[[str], Any] | None = None) -> ChatCompletionResponse:
    """A whole reply; with ``parse``, each ``message.parsed`` is ``parse(content)`` (None for no content)."""
    choices = data.get("choices")
    if parse is not None and isinstance(choices, list):
        data = {**data, "choices": [_with_parsed(choice, parse) for choice in choices]}
    return _view(ChatCompletionResponse, data)


class _Parsed(dict):  # type: ignore[type-arg]
    """A message's JSON (copied) carrying what ``parse`` made of it, out of sight of ``model_dump``:
    views keep no state besides their JSON, and are built anew at each read."""

    __slots__ = ("parsed",)
    parsed: Any


def _with_parsed(choice: dict[str, Any], parse: Callable[[str], Any]) -> dict[str, Any]:
    message = choice.get("message")
    if not isinstance(message, dict):
        return choice
    parsed = _Parsed(message)
    text = _text(message.get("content"))
    parsed.parsed = parse(text) if text else None
    return {**choice, "message": parsed}


def _text(content: Any) -> str:
    """A message's text: its string, or its text chunks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(chunk.get("text", "") for chunk in content
                       if isinstance(chunk, dict) and chunk.get("type") == "text")
    return ""


def event(data: dict[str, Any]) -> CompletionEvent:
    """One streamed chunk (an event's ``data``) as the client's event, read as ``event.data``."""
    return _view(CompletionEvent, {"data": data})


def model_list(data: dict[str, Any]) -> ModelList:
    """``GET /v1/models``'s reply; ``data`` holds the cards."""
    return _view(ModelList, data)
