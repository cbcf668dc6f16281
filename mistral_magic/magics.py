"""The ``%%mistral`` cell magic and its ``%mistral_*`` companions.

Configure with ``%config MistralMagics.model = "mistral-large-latest"`` in a
notebook, or ``c.MistralMagics.model = ...`` in ``ipython_config.py``. Every
setting is listed with its help by ``%config MistralMagics``. The API key is
never a setting: it is read from the environment variable named by
``api_key_env`` each time a request is made.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, default, observe

from .conversation import ConversationStore
from .conversation_magics import DEFAULT_PRICES
from .params import PARAMETERS, parse_line

if TYPE_CHECKING:
    from .client import MistralClient
    from .exchange import Request
    from .render import Sink

__all__ = ["MistralMagics"]

_PARAMETER = {p.name: p for p in PARAMETERS}


def _api_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one flag per sampling parameter, named as in the API."""
    for parameter in reversed(PARAMETERS):
        func = argument(*parameter.flags, type=parameter.parse, metavar="VALUE",
                        help=parameter.help)(func)
    return func


def _chat_flag(func: Callable[..., Any]) -> Callable[..., Any]:
    return argument("-c", "--chat", default="default", metavar="NAME",
                    help="Named conversation to use (default: %(default)s).")(func)


@magics_class
class MistralMagics(Magics):
    """Chat with Mistral models from notebook cells."""

    model = Unicode("mistral-small-latest", help="Model used when a cell names none.").tag(config=True)
    base_url = Unicode(help="API root. Default: $MISTRAL_BASE_URL, else https://api.mistral.ai.").tag(
        config=True)
    api_key_env = Unicode("MISTRAL_API_KEY",
                          help="Environment variable that holds the API key.").tag(config=True)
    temperature = _PARAMETER["temperature"].trait()
    top_p = _PARAMETER["top_p"].trait()
    max_tokens = _PARAMETER["max_tokens"].trait()
    random_seed = _PARAMETER["random_seed"].trait()
    presence_penalty = _PARAMETER["presence_penalty"].trait()
    frequency_penalty = _PARAMETER["frequency_penalty"].trait()
    stop = List(Unicode(), help="Stop sequences sent with every request.").tag(config=True)
    safe_prompt = Bool(False, help="Ask for Mistral's safety system prompt on every request.").tag(
        config=True)
    connect_timeout = Float(10.0, min=0.1, help="Seconds to wait for a connection.").tag(config=True)
    read_timeout = Float(120.0, min=0.1,
                         help="Seconds to wait for each piece of a reply.").tag(config=True)
    max_retries = Int(4, min=0, help="Extra attempts after a 429, a 5xx or a failed connection, "
                                    "before any of the reply has arrived.").tag(config=True)
    retry_max_wait = Float(60.0, min=0.0,
                           help="Most seconds to spend waiting between attempts.").tag(config=True)
    output = Enum(("auto", "markdown", "text"), "auto",
                  help="How replies show: rendered Markdown in a notebook, plain text in a "
                       "terminal; 'auto' picks by frontend.").tag(config=True)
    prices = Dict(default_value=DEFAULT_PRICES,
                  help="USD per million tokens, [input, output], by model, for %mistral_usage. "
                       "Defaults: Mistral's list prices in mid-2025.").tag(config=True)
    update_interval = Float(1 / 12, min=0.0,
                            help="Seconds between live updates of a streaming reply.").tag(config=True)

    def __init__(self, shell: Any) -> None:
        super().__init__(shell=shell)
        self.store = ConversationStore()
        self._client: MistralClient | None = None
        self._cell_id: str | None = None

    @default("base_url")
    def _default_base_url(self) -> str:
        from .client import DEFAULT_BASE_URL  # noqa: PLC0415 (httpx loads on first use)

        return os.environ.get("MISTRAL_BASE_URL") or DEFAULT_BASE_URL

    @observe("base_url", "api_key_env", "connect_timeout", "read_timeout", "max_retries",
             "retry_max_wait")
    def _settings_changed(self, change: Any) -> None:
        self.close()

    @property
    def client(self) -> MistralClient:
        if self._client is None:
            from .client import MistralClient
            from .retry import RetryPolicy

            self._client = MistralClient(
                base_url=self.base_url, api_key_env=self.api_key_env,
                connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                retry=RetryPolicy(retries=self.max_retries, max_total=self.retry_max_wait))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)

    def post_run_cell(self, result: Any) -> None:
        self._cell_id = None

    @no_var_expand
    @magic_arguments()
    @argument("-m", "--model", metavar="NAME", help="Model to ask (default: MistralMagics.model).")
    @_chat_flag
    @argument("--role", choices=("user", "system"), default="user",
              help="'system' makes the cell the conversation's system message and sends nothing.")
    @_api_flags
    @argument("--stop", action="append", metavar="TEXT", help="Stop sequence; repeat for several.")
    @argument("--safe-prompt", action="store_true", default=None,
              help="Prepend Mistral's safety system prompt.")
    @argument("--prefix", metavar="TEXT", help="Make the reply start with TEXT.")
    @argument("--json", action="store_true", help="Ask for a JSON object (response_format json_object).")
    @argument("--new", action="store_true",
              help="Start the conversation afresh with this cell (the system message stays).")
    @argument("--once", action="store_true",
              help="Send only this cell (and the system message); record nothing.")
    @argument("--no-stream", action="store_true", help="Wait for the whole reply, then show it.")
    @argument("-o", "--out", metavar="NAME",
              help="Store the reply text in this variable (with --json, the parsed object).")
    @cell_magic
    def mistral(self, line: str, cell: str) -> None:
        """Send the cell to a Mistral model and stream the reply as Markdown.

        Example::

            %%mistral -m mistral-small-latest -t 0.2
            What is the best French cheese?
        """
        args = parse_line(self.mistral, line)
        conversation = self.store[args.chat]
        if args.role == "system":
            conversation.system = cell.strip() or None
            print(f"System message of '{conversation.name}' set ({len(cell.strip())} characters).")
            return
        if args.new:
            conversation.clear(keep_system=True)
        from .exchange import run_turn

        reply = run_turn(self.client, conversation, self._request(args, cell), self._sink())
        if args.out:
            self.shell.user_ns[args.out] = _out_value(reply.text, args.json)

    @line_magic
    def mistral_models(self, line: str) -> None:
        """List the models your key can use (GET /v1/models)."""
        rows = ["| model | context | aliases |", "|---|---|---|"]
        for card in sorted(self.client.list_models(), key=lambda card: str(card.get("id"))):
            aliases = ", ".join(card.get("aliases") or [])
            rows.append(f"| {card.get('id')} | {card.get('max_context_length', '')} | {aliases} |")
        self.show_markdown("\n".join(rows))

    @magic_arguments()
    @_chat_flag
    @argument("-m", "--model", metavar="MODEL", help="Model to start with (default: MistralMagics.model).")
    @line_magic
    def mistral_panel(self, line: str) -> Any:
        """Show a chat panel on a conversation; cells and panels share its turns.

        Example::

            %mistral_panel -c notes
        """
        args = parse_line(self.mistral_panel, line)
        from .panel import ChatPanel, options_of

        return ChatPanel(self.store, self.client, chat=args.chat, model=args.model or self.model,
                         options=options_of(self), interval=self.update_interval)

    def _request(self, args: Any, cell: str) -> Request:
        from .exchange import Request

        if not cell.strip():
            raise UsageError("the cell is empty: write your message below the %%mistral line.")
        options = {p.name: _first(getattr(args, p.name), getattr(self, p.name)) for p in PARAMETERS}
        options["stop"] = args.stop or self.stop or None
        options["safe_prompt"] = True if args.safe_prompt or self.safe_prompt else None
        options["response_format"] = {"type": "json_object"} if args.json else None
        return Request(prompt=cell.strip(), model=args.model or self.model, options=options,
                       prefix=args.prefix or "", stream=not args.no_stream,
                       record=not args.once, cell_id=self._cell_id)

    def _rich(self) -> bool:
        if self.output == "auto":
            return getattr(self.shell, "kernel", None) is not None
        return self.output == "markdown"

    def _sink(self) -> Sink:
        from .render import LiveMarkdown, LiveText

        return LiveMarkdown(interval=self.update_interval) if self._rich() else LiveText()

    def show_markdown(self, markdown: str) -> None:
        """Show Markdown rendered in a notebook, as text in a terminal."""
        if self._rich():
            from IPython.display import display

            from .render import bundle

            display(bundle(markdown), raw=True)
        else:
            print(markdown)


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _out_value(text: str, parse_json: bool) -> Any:
    if not parse_json:
        return text
    try:
        return json.loads(text)
    except ValueError:
        print("The reply is not valid JSON; its text was stored instead.")
        return text
