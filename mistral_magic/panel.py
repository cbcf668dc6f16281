"""A chat panel in the output area, on the same conversations as the cells.

``%mistral_panel`` (or ``ChatPanel(...)``) shows a transcript, an input with
Send, Stop and Clear, the settings of the next request, and a status line. It
shares the magics' ``ConversationStore`` and client: a turn sent here is context
for the next ``%%mistral`` cell and the other way round, and every panel on a
conversation follows its changes. Replies stream on a worker thread through
:func:`~mistral_magic.exchange.run_turn`, the path a cell uses, so the kernel
stays free and a reply is shown, stopped and recorded as in a cell.

Widgets get no key events, so there is no Ctrl/Cmd+Enter: Send is the button.

This module is one class over 300 lines: its controls, the send on its way and
its view of the conversation change under one lock, from the kernel's thread and
the worker's, so they are kept together; how things are drawn is :mod:`.panel_view`.
"""

from __future__ import annotations

import functools
import html
import operator
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .conversation import Conversation, ConversationStore, Turn
from .errors import MistralError, one_line
from .exchange import Request, run_turn
from .panel_view import ReplyView, close_widget, question_widget, turn_widget
from .params import DEFAULT_MODEL, request_options, settings_of
from .session import loaded

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["ChatPanel"]

_WIDE = {"description_width": "initial"}


@dataclass
class _Flight:
    """One message on its way: its prompt, where it shows, its Stop event and its thread."""

    prompt: str
    question: widgets.HTML
    view: ReplyView = field(init=False)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    settled: bool = False

    def close(self) -> None:
        close_widget(self.question)
        close_widget(self.view.widget)


class ChatPanel(widgets.VBox):
    """A chat panel on one of the kernel's named conversations.

    ``%mistral_panel`` passes the kernel's store, client and settings. Made from
    Python without ``store`` and ``client``, the panel shares those of the loaded
    extension, so it sees the conversations the cells see; without the extension
    it keeps a store of its own and a client from the environment, which
    :meth:`close` closes. ``options`` are sent with every message (the panel's
    temperature and token limit override theirs); ``interval`` is the most often,
    in seconds, that the reply being streamed is redrawn.
    """

    def __init__(self, store: ConversationStore | None = None, client: Backend | None = None, *,
                 chat: str = "default", model: str | None = None,
                 options: Mapping[str, Any] | None = None, interval: float | None = None) -> None:
        magics = loaded() if store is None and client is None else None
        if magics is not None:
            store, client, model = magics.store, magics.client, model or magics.model
            options = settings_of(magics) if options is None else options
            interval = magics.update_interval if interval is None else interval
        self._owns_client = client is None
        if client is None:
            from .client import MistralClient
            from .router import Router

            client = Router(MistralClient)
        self.client = client
        self.store = store if store is not None else ConversationStore()
        self.interval = 1 / 12 if interval is None else interval
        self._defaults = dict(options or {})
        self._default_model = model or DEFAULT_MODEL
        self._lock = threading.RLock()
        self._turns: dict[int, tuple[Turn, widgets.HTML]] = {}
        self._last: _Flight | None = None
        self._closed = False
        super().__init__(children=self._build(chat))
        self.add_class("mistral-panel")
        self.conversation = self.store[chat]
        self._unobserve = self.conversation.observe(self._on_change)
        self._refresh()
        self._lister = threading.Thread(target=self._list_models, name="mistral-panel-models", daemon=True)
        self._lister.start()

    def _build(self, chat: str) -> list[widgets.Widget]:
        """Make every control; they are set as children in one assignment."""
        temperature = self._defaults.get("temperature")
        self.conversation_box = widgets.Combobox(
            value=chat, options=sorted(self.store), description="chat", placeholder="conversation name",
            continuous_update=False, ensure_option=False, style=_WIDE)
        self.model_box: widgets.ValueWidget = widgets.Dropdown(
            options=[self._default_model], value=self._default_model, description="model", style=_WIDE)
        self.temperature_set = widgets.Checkbox(value=temperature is not None, description="temperature",
                                                indent=False, layout=widgets.Layout(width="auto"))
        self.temperature = widgets.FloatSlider(value=0.3 if temperature is None else temperature,
                                               min=0, max=1.5, step=0.05, disabled=temperature is None)
        self.max_tokens = widgets.BoundedIntText(value=self._defaults.get("max_tokens") or 0, min=0,
                                                 max=1_000_000, description="max tokens (0: no limit)",
                                                 style=_WIDE, layout=widgets.Layout(width="220px"))
        self.system_box = widgets.Textarea(placeholder="System prompt (optional)", rows=2,
                                           continuous_update=False, layout=widgets.Layout(width="100%"))
        self.transcript = widgets.Box(layout=widgets.Layout(
            display="flex", flex_flow="column-reverse", overflow="auto", max_height="420px", width="100%"))
        self.prompt = widgets.Textarea(placeholder="Message", rows=3, layout=widgets.Layout(width="100%"))
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="eraser",
                                           tooltip="Forget this conversation's turns; the system message stays")
        self.status_line = widgets.HTML()
        self._wire()
        self._settings = widgets.HBox([self.conversation_box, self.model_box,
                                       widgets.HBox([self.temperature_set, self.temperature]),
                                       self.max_tokens], layout=widgets.Layout(flex_flow="row wrap"))
        actions = widgets.HBox([self.send_button, self.stop_button, self.clear_button, self.status_line])
        for widget, name in ((self.transcript, "transcript"), (self.prompt, "input"),
                             (self.send_button, "send"), (self.stop_button, "stop"),
                             (self.clear_button, "clear"), (self.status_line, "status")):
            widget.add_class(f"mistral-{name}")
        return [self._settings, self.system_box, self.transcript, self.prompt, actions]

    def _wire(self) -> None:
        self.send_button.on_click(self._on_send)
        self.stop_button.on_click(self._stop)
        self.clear_button.on_click(self._clear)
        self.conversation_box.observe(self._switch, "value")
        self.system_box.observe(self._set_system, "value")
        widgets.dlink((self.temperature_set, "value"), (self.temperature, "disabled"), operator.not_)

    # --- sending

    def _on_send(self, _: Any = None) -> None:
        text = self.prompt.value.strip()
        if not text or self._busy():
            return
        request = Request(prompt=text, model=self._model(), options=self._options())
        flight = _Flight(text, question_widget(text))
        flight.view = ReplyView(functools.partial(self._status_from, flight), interval=self.interval)
        with self._lock:
            self._discard_last()
            self._last = flight
            self.prompt.value = ""
            self._show_busy(True)
            self._refresh()
        flight.thread = threading.Thread(target=self._run, args=(flight, self.conversation, request),
                                         name="mistral-panel", daemon=True)
        flight.thread.start()

    def _run(self, flight: _Flight, conversation: Conversation, request: Request) -> None:
        """The worker: stream one turn; whatever goes wrong ends up in the status line."""
        try:
            run_turn(self.client, conversation, request, flight.view, stop=flight.stop)
        except Exception as exc:  # shown, not swallowed: a thread's errors otherwise vanish
            self._settle(flight, one_line(exc))
        else:
            self._settle(flight, None)

    def _stop(self, _: Any = None) -> None:
        """End the reply now: shown stopped, its stream cut, nothing committed."""
        flight = self._last
        if flight is None or flight.settled:
            return
        flight.stop.set()
        flight.view.halt(f"stopped: nothing was added to '{self.conversation.name}'")
        self._settle(flight, f"Stopped: nothing was added to '{self.conversation.name}'.", error=False)
        if flight.thread is not None:  # after settling, so what the cut makes the worker raise is not shown
            self.client.cut_streams([flight.thread])

    def _settle(self, flight: _Flight, failure: str | None, *, error: bool = True) -> None:
        """Make the panel ready again; a message not recorded goes back into an empty input."""
        with self._lock:
            if flight.settled:
                return
            flight.settled = True
            if failure is not None:
                if not self.prompt.value.strip():
                    self.prompt.value = flight.prompt
                self._set_status(failure, error=error)
            self._show_busy(False)
            self._refresh()

    def _status_from(self, flight: _Flight, text: str) -> None:
        with self._lock:
            if flight is self._last and not flight.settled:
                self._set_status(text)

    def _busy(self) -> bool:
        return self._last is not None and not self._last.settled

    def _show_busy(self, busy: bool) -> None:
        self.send_button.disabled = self.clear_button.disabled = busy
        self.conversation_box.disabled = busy
        self.stop_button.disabled = not busy

    # --- the request

    def _model(self) -> str:
        return str(self.model_box.value).strip() or self._default_model

    def _options(self) -> dict[str, Any]:
        """The settings the panel was given, as its controls now set them."""
        temperature = round(self.temperature.value, 2) if self.temperature_set.value else None
        return request_options({**self._defaults, "temperature": temperature,
                                "max_tokens": self.max_tokens.value or None}, {})

    def _list_models(self) -> None:
        """Fill the model list from GET /v1/models; type a name instead when that fails."""
        try:
            names = {str(card["id"]) for card in self.client.list_models() if card.get("id")}
        except MistralError as exc:
            self._model_as_text(f"Models could not be listed ({one_line(exc)}); type a model name.")
            return
        with self._lock:
            if self._closed:
                return
            current = self._model()
            self.model_box.options = sorted(names | {current})
            self.model_box.value = current

    def _model_as_text(self, reason: str) -> None:
        with self._lock:
            if self._closed:
                return
            dropdown, self.model_box = self.model_box, widgets.Text(
                value=self._model(), description="model", style=_WIDE)
            self._settings.children = [self.model_box if child is dropdown else child
                                       for child in self._settings.children]
            close_widget(dropdown)
            if not self._busy():
                self._set_status(reason, error=True)

    # --- the conversation

    def _switch(self, change: Mapping[str, Any]) -> None:
        name = str(change["new"]).strip()
        if name == self.conversation.name:
            return
        if not name or self._busy():
            self.conversation_box.value = self.conversation.name
            return
        with self._lock:
            self._unobserve()
            self.conversation = self.store[name]
            self._unobserve = self.conversation.observe(self._on_change)
            self._discard_last()
            self._set_status("")
            self._refresh()

    def _clear(self, _: Any = None) -> None:
        with self._lock:
            self._discard_last()
            self.conversation.clear(keep_system=True)
            self._set_status(f"Cleared '{self.conversation.name}'; the system message stays.")

    def _set_system(self, change: Mapping[str, Any]) -> None:
        text = str(change["new"]).strip() or None
        if text != self.conversation.system:
            self.conversation.system = text

    def _on_change(self, conversation: Conversation) -> None:
        """Follow a change from anywhere (a cell, this panel, another panel); never raise into it."""
        try:
            self._refresh()
        except Exception as exc:  # the committing cell or worker must not fail for a view
            self._set_status(one_line(exc), error=True)

    def _refresh(self) -> None:
        """Show the conversation: earlier turns keep their widgets, new turns render once."""
        with self._lock:
            if self._closed:
                return
            shown: dict[int, tuple[Turn, widgets.HTML]] = {}
            for turn in list(self.conversation.turns):
                known = self._turns.get(id(turn))
                shown[id(turn)] = known if known and known[0] is turn else (turn, turn_widget(turn))
            for key, (_, widget) in self._turns.items():
                if shown.get(key, (None, None))[1] is not widget:
                    close_widget(widget)
            self._turns = shown
            children = [widget for _, widget in shown.values()] + self._open_exchange()
            self.transcript.children = tuple(reversed(children))  # column-reverse keeps the newest in view
            self.system_box.value = self.conversation.system or ""
            names = tuple(sorted(set(self.store) | {self.conversation.name}))
            if tuple(self.conversation_box.options) != names:
                self.conversation_box.options = names

    def _open_exchange(self) -> list[widgets.Widget]:
        """The message on its way, or the last one that failed or was stopped."""
        flight = self._last
        if flight is None or flight.view.completed:
            return []
        return [flight.question, flight.view.widget]

    def _discard_last(self) -> None:
        if self._last is not None and self._last.settled:
            self._last.close()
            self._last = None

    def _set_status(self, text: str, *, error: bool = False) -> None:
        color = "#b91c1c" if error else "#666"
        self.status_line.value = f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""

    # --- lifecycle

    def join(self, timeout: float | None = None) -> None:
        """Wait for the panel's background work: the model list and the reply on its way."""
        self._lister.join(timeout)
        flight = self._last
        if flight is not None and flight.thread is not None:
            flight.thread.join(timeout)

    def close(self) -> None:
        """Stop the reply, stop following the conversation, close every widget and an owned client."""
        if self._closed:
            return
        self._stop()
        self.join(timeout=2)
        with self._lock:
            self._closed = True
            self._unobserve()
            for widget in self._widgets():
                close_widget(widget)
        if self._owns_client:
            self.client.close()
        self.layout.close()
        super().close()

    def _widgets(self) -> Iterator[widgets.Widget]:
        """Every widget inside the panel; closing a box does not close its children."""
        stack: list[widgets.Widget] = list(self.children)
        if self._last is not None:
            stack += [self._last.question, self._last.view.widget]
        while stack:
            widget = stack.pop()
            stack.extend(getattr(widget, "children", ()))
            yield widget
