"""The ``%%mistral`` cell magic and its ``%mistral_*`` companions.

Configure with ``%config MistralMagics.model = "mistral-large-latest"`` in a
notebook, or ``c.MistralMagics.model = ...`` in ``ipython_config.py``. Every
setting is listed with its help by ``%config MistralMagics``. The API key is
never a setting: it is read from the environment variable named by
``api_key_env`` each time a request is made.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Dict, Enum, Float, Int, Unicode, default, observe

from . import checks, params
from .conversation import Conversation, ConversationStore
from .figures import FigureMemory
from .magic_options import api_flags, chat_flag, flag_type, parse_line, setting_check, several, traits
from .prices import DEFAULT_PRICES
from .router import Router

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .batch import JobRows
    from .client import MistralClient
    from .dataset import Progress, Rows
    from .exchange import Request
    from .live import Sink
    from .structured import Schema

__all__ = ["MistralMagics"]


@magics_class
class MistralMagics(Magics):
    """Chat with Mistral models from notebook cells."""

    model = Unicode(params.DEFAULT_MODEL, help="Model used when a cell names none.").tag(config=True)
    base_url = Unicode(help="API root. Default: $MISTRAL_BASE_URL, else https://api.mistral.ai.").tag(
        config=True)
    api_key_env = Unicode(params.KEY_VARIABLE,
                          help="Environment variable that holds the API key.").tag(config=True)
    dialect = Enum(("mistral", "openai"), "mistral",
                   help="'openai' for OpenAI-compatible servers (vLLM, Ollama, llama.cpp's server, "
                        "LM Studio) at base_url; 'mistral' for Mistral's API.").tag(config=True)
    locals().update(traits())  # temperature, top_p, ..., stop, safe_prompt: one per parameter
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
    max_tool_rounds = Int(5, min=1, help="Most rounds of tool calls in one --tools cell; the request "
                                         "after the last round asks for a text answer.").tag(config=True)
    max_concurrency = Int(8, min=1, help="Most --over requests in flight at once; --concurrency sets it per "
                                         "cell.").tag(config=True)
    batch_poll_interval = Float(30.0, min=0.0, help="Most seconds between polls of a --batch job; polls start "
                                                    "1 s apart and back off to it.").tag(config=True)
    context_chars = Int(params.CONTEXT_BUDGET, min=params.SMALLEST_CONTEXT_BUDGET,
                        help="Most characters each --context variable may take in a message; "
                             "--context-chars sets it per cell.").tag(config=True)

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell=shell)
        self.store = ConversationStore()
        self.base_url  # noqa: B018  (read now, so a refused %config value rolls back to it, not to "")
        self.client = Router(self._remote)  # cells and panels share it; it follows every %config
        self._cell_id: str | None = None
        self._row_answers: dict[bytes, Any] = {}  # --over's answers by request body, so a re-run resumes
        self._batches: dict[str, JobRows] = {}  # batch jobs sent from this kernel, not yet collected
        formatter = shell.display_formatter
        assert formatter is not None, "a shell formats what it displays"
        self.figures = FigureMemory(parent=formatter)
        self._unwatch_figures = self.figures.install(formatter.formatters)

    @default("base_url")
    def _default_base_url(self) -> str:
        return params.base_url()[0]

    _check_model = setting_check(checks.model_name, "model")
    _check_base_url = setting_check(checks.base_url, "base_url")
    _check_api_key_env = setting_check(checks.environment_variable, "api_key_env")

    @observe("base_url", "api_key_env", "dialect", "connect_timeout", "read_timeout", "max_retries",
             "retry_max_wait")
    def _settings_changed(self, change: Any) -> None:
        self.close()

    def _remote(self) -> MistralClient:
        """The HTTP client as the settings are now; made again after any of them changes."""
        from .client import MistralClient
        from .retry import RetryPolicy

        return MistralClient(
            base_url=self.base_url, api_key_env=self.api_key_env, dialect=self.dialect,
            connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
            retry=RetryPolicy(retries=self.max_retries, max_total=self.retry_max_wait))

    def close(self) -> None:
        """Close connections; the next request connects with the settings then."""
        self.client.close()

    def detach(self) -> None:
        """Stop watching the shell (the extension is unloaded) and close connections."""
        self._unwatch_figures()
        self.close()

    def pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)

    def post_run_cell(self, result: Any) -> None:
        self._cell_id = None

    @no_var_expand
    @magic_arguments("%mistral")  # usages start with "%" and this name: "%%mistral", as the cell magic is written
    @argument("-m", "--model", metavar="NAME", type=several(flag_type(checks.model_name, "-m")),
              help="Model to ask (default: MistralMagics.model).")
    @chat_flag()
    @argument("--role", choices=("user", "system"), default="user",
              help="'system' makes the cell the conversation's system message and sends nothing.")
    @api_flags
    @argument("--prefix", metavar="TEXT", help="Make the reply start with TEXT.")
    @argument("--json", action="store_true", help="Ask for a JSON object (response_format json_object).")
    @argument("--schema", metavar="NAME",
              help="Ask for JSON matching NAME (a JSON-schema dict or pydantic class); check the reply.")
    @argument("--tools", metavar="F,G", help="Let the model call these Python functions.")
    @argument("--vars", action="store_true",
              help="Fill {name} in the cell from your variables; {{ and }} are literal braces.")
    @argument("--context", metavar="A,B",
              help="Add these variables to the message, described for the model (a DataFrame's shape, "
                   "dtypes, rows and summaries; arrays, errors, anything); also In[n], Out[n] and _.")
    @argument("--context-chars", metavar="N",
              type=flag_type(checks.count_at_least, "--context-chars", str(params.SMALLEST_CONTEXT_BUDGET)),
              help="Most characters each --context variable may take (default: MistralMagics.context_chars).")
    @argument("--image", metavar="EXPR", action="append",
              help="Add an image, for a vision model: a figure, a PIL image, image bytes, a file path or an "
                   "http(s) URL; 'plt' is the last figure shown. Repeat for several.")
    @argument("--code", action="store_true",
              help="Put the reply's code (its last python block) in a new cell below; -o gets the code.")
    @argument("--over", metavar="NAME",
              help="Run the cell once per row of NAME (a DataFrame, Series or list), filling {column} "
                   "({item} for plain values); -o gets the answers aligned with the rows.")
    @argument("--concurrency", metavar="N", type=flag_type(checks.count_at_least, "--concurrency", "1"),
              help="Most --over requests in flight at once (default: MistralMagics.max_concurrency).")
    @argument("--fresh", action="store_true", help="With --over, send every row again, answered or not.")
    @argument("--batch", action="store_true",
              help="With --over, send the rows as one job on Mistral's Batch API (half price, no rate limits) "
                   "and collect it when done; Ctrl-C leaves it running for %%mistral_batch.")
    @argument("--compare", action="store_true",
              help="Run every combination of comma-separated values (-m a,b -t 0,0.7) side by side; "
                   "records nothing.")
    @argument("--dry-run", action="store_true", help="Show the request body instead of sending it.")
    @argument("--new", action="store_true",
              help="Start the conversation afresh with this cell (the system message stays).")
    @argument("--once", action="store_true",
              help="Send only this cell (and the system message); record nothing.")
    @argument("--no-stream", action="store_true", help="Wait for the whole reply, then show it.")
    @argument("-o", "--out", metavar="NAME", type=flag_type(checks.variable_name, "-o"),
              help="Store the reply text in this variable (--json: the parsed object; --schema: the "
                   "validated one; --compare: a record per combination; --dry-run: the body).")
    @cell_magic
    def mistral(self, line: str, cell: str) -> None:
        """Send the cell to a Mistral model and stream the reply as Markdown.

        Example::

            %%mistral -m mistral-small-latest -t 0.2
            What is the best French cheese?
        """
        args = parse_line(self.mistral, line)
        if args.vars:
            from .templating import fill

            cell = self._resolve(fill, cell)
        conversation = self.store[args.chat]
        if args.role == "system":
            conversation.system = cell.strip() or None
            print(f"System message of '{conversation.name}' set ({len(cell.strip())} characters).")
            return
        request = self._request(args, cell)
        if args.over:
            return self._over(args, conversation, request)
        if args.new:
            conversation.clear(keep_system=True)
        if args.dry_run:
            return self._dry_run(args, conversation, request)
        if args.compare:
            return self._compare(args, conversation, request)
        from .exchange import run_turn

        reply = run_turn(self.client, conversation, request, self._sink())
        if args.code:
            self._hand_over(reply.text, args.out)
        elif args.out or request.schema or args.json:
            self._keep(args, request, reply.text)

    @magic_arguments()
    @chat_flag()
    @argument("-m", "--model", metavar="NAME", type=flag_type(checks.model_name, "-m"),
              help="Model to ask (default: MistralMagics.model).")
    @argument("--code", action="store_true", help="Put the fixed code in a new cell below.")
    @argument("-o", "--out", metavar="NAME", type=flag_type(checks.variable_name, "-o"),
              help="Store the explanation in this variable (--code: the fixed code).")
    @argument("words", nargs="*", help="More to say, such as what you were trying to do.")
    @line_magic
    def mistral_explain(self, line: str) -> None:
        """Ask the model why the last error happened and how to fix it; the answer streams like a cell's.

        Sends the exception's type, message and traceback and the source of the
        cell that raised it. Example::

            %mistral_explain --code I wanted the mean per region
        """
        args = parse_line(self.mistral_explain, line)
        error = getattr(sys, "last_value", None)  # IPython keeps the last exception it showed here
        if error is None:
            print("No error to explain yet: %mistral_explain explains the last cell that failed.")
            return
        from .context import error_report
        from .exchange import Request, run_turn

        words = " ".join(args.words)
        prompt = "\n\n".join(part for part in (_EXPLAIN, words, error_report(error)) if part)
        options = params.request_options(params.settings_of(self), {})
        request = Request(prompt=prompt, model=args.model or self.model, options=options, cell_id=self._cell_id)
        reply = run_turn(self.client, self.store[args.chat], request, self._sink())
        if args.code:
            self._hand_over(reply.text, args.out)
        elif args.out:
            self._namespace[args.out] = reply.text

    @line_magic
    def mistral_models(self, line: str) -> None:
        """List the models your key can use (GET /v1/models)."""
        rows = ["| model | context | aliases |", "|---|---|---|"]
        for card in sorted(self.client.list_models(), key=lambda card: str(card.get("id"))):
            aliases = ", ".join(card.get("aliases") or [])
            rows.append(f"| {card.get('id')} | {card.get('max_context_length', '')} | {aliases} |")
        self.show_markdown("\n".join(rows))

    @magic_arguments()
    @chat_flag()
    @argument("-m", "--model", metavar="MODEL", type=flag_type(checks.model_name, "-m"),
              help="Model to start with (default: MistralMagics.model).")
    @line_magic
    def mistral_panel(self, line: str) -> Any:
        """Show a chat panel on a conversation; cells and panels share its turns.

        Example::

            %mistral_panel -c notes
        """
        args = parse_line(self.mistral_panel, line)
        from .panel import ChatPanel

        return ChatPanel(self.store, self.client, chat=args.chat, model=args.model or self.model,
                         options=params.settings_of(self), interval=self.update_interval)

    def _request(self, args: argparse.Namespace, cell: str) -> Request:
        from .exchange import Request
        from .structured import Schema
        from .tools import Toolbox

        if not cell.strip():
            raise UsageError("the cell is empty: write your message below the %%mistral line.")
        _check_combinations(args)
        schema = self._resolve(Schema.from_namespace, args.schema) if args.schema else None
        response_format = schema.response_format() if schema else {"type": "json_object"} if args.json else None
        flags = {parameter.name: getattr(args, parameter.name) for parameter in params.PARAMETERS}
        options = params.request_options(params.settings_of(self), {**flags, "response_format": response_format})
        tools = (self._resolve(Toolbox.from_namespace, args.tools, self.max_tool_rounds)
                 if args.tools else None)
        return Request(prompt=self._with_context(args, cell.strip()), model=args.model or self.model,
                       options=options, prefix=args.prefix or "", stream=not args.no_stream,
                       record=not args.once, cell_id=self._cell_id, tools=tools, schema=schema,
                       images=[self._image(given) for given in args.image or ()])

    def _with_context(self, args: argparse.Namespace, prompt: str) -> str:
        """The cell's text, then a block describing each --context variable."""
        if not args.context:
            return prompt
        from .context import context_blocks

        budget = args.context_chars or self.context_chars
        blocks = self._resolve(lambda namespace: context_blocks(args.context, namespace, budget))
        return f"{prompt}\n\n{blocks}"

    def _image(self, given: str) -> dict[str, Any]:
        """The chunk for one --image: the last figure shown for ``plt``, else what ``given`` evaluates to."""
        from .images import image_chunk

        try:
            return image_chunk(self.figures.last_figure() if given == "plt" else self._evaluated(given), given)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def _evaluated(self, given: str) -> Any:
        """``given`` evaluated in the user's namespace; a path or URL that is not Python stays as written."""
        try:
            return self.shell.ev(given)  # type: ignore[union-attr]  # the user's own expression, as a cell runs it
        except (NameError, SyntaxError):
            return given
        except Exception as exc:
            raise UsageError(f"--image {given}: {type(exc).__name__}: {exc}") from None

    def _over(self, args: argparse.Namespace, conversation: Conversation, request: Request) -> None:
        """--over: the cell's answer for every row, aligned with the table, into --out."""
        from . import dataset
        from .errors import ReplyInterrupted

        if args.over not in self._namespace:
            raise UsageError(f"--over: no variable named {args.over}. Define it in a cell first.")
        rows = self._resolve(lambda namespace: dataset.rows_of(namespace[args.over], args.over))
        body = dataset.row_body(request.model, conversation.system, request.options)
        if args.dry_run:  # the first row's body: the others differ only by their fields
            return self._show_bodies(args, [self.client.wire(body(rows.prompt(request.prompt, 0)))]
                                     if rows.items else [])
        cache: dict[bytes, Any] = {} if args.fresh else self._row_answers
        parse = self._parser(args.out or "the row", request.schema, args.json)
        if args.batch:
            return self._batch(args, rows, request, body, parse, cache)
        result, interrupted = dataset.run_over(
            self.client, rows, request.prompt, body, name=args.out or args.over,
            concurrency=args.concurrency or self.max_concurrency, cache=cache, progress=self._progress(len(rows.items)),
            parse=parse, price=self._price(request.model),
            hint="--batch would run it at half price, outside rate limits")
        if args.fresh:
            self._row_answers.update(cache)  # the fresh answers replace the ones kept before
        if args.out:
            self._namespace[args.out] = result
        if interrupted:
            raise ReplyInterrupted("interrupted: the rows answered so far are kept (in -o too); run the cell "
                                   "again to send only the others.")

    def _batch(self, args: argparse.Namespace, rows: Rows, request: Request, body: Callable[[str], Any],
               parse: Callable[[str], Any], cache: dict[bytes, Any]) -> None:
        """--over --batch: the rows as one Batch API job, watched until it ends, then into --out."""
        from . import batch

        api = batch.jobs_api(self.client, request.model)
        reply_format = f"schema:{args.schema}" if args.schema else "json" if args.json else "text"
        metadata = {"over": args.over, "format": reply_format, **({"out": args.out} if args.out else {})}
        planned, lines = batch.plan(rows, request.prompt, body, name=args.out or args.over, parse=parse,
                                    cache=cache)
        result, card = batch.run(api, planned, lines, request.model, cache=cache, pending=self._batches,
                                 metadata=metadata, progress=self._progress(len(rows.items)),
                                 most=self.batch_poll_interval, price=self._price(request.model))
        if args.fresh:
            self._row_answers.update(cache)
        self._keep_batch(result, card, args.out)

    def _keep_batch(self, result: Any, card: dict[str, Any] | None, out: str | None) -> None:
        """A batch job's results into ``out``; a job that did not succeed is an error once they are kept."""
        from .errors import MistralError

        job_id = card.get("id") if card else None
        if out:
            self._namespace[out] = result
        elif job_id:
            print(f"Add -o NAME to keep the results: %mistral_batch {job_id} -o NAME.")
        if card and card.get("status") != "SUCCESS":
            raise MistralError(f"batch job {job_id} ended {card.get('status')}; the rows it answered are kept.")

    @magic_arguments()
    @argument("job", nargs="?", metavar="JOB_ID",
              help="The job to follow and collect ('last': the latest one sent); none lists recent jobs.")
    @argument("-o", "--out", metavar="NAME", type=flag_type(checks.variable_name, "-o"),
              help="Store the results here, aligned with the table (default: the -o the job was sent with).")
    @argument("--over", metavar="NAME",
              help="Align the results with this table (default: the one the job was sent for, if defined).")
    @argument("--cancel", action="store_true", help="Cancel the job; the rows it answered can still be collected.")
    @line_magic
    def mistral_batch(self, line: str) -> None:
        """Batch API jobs: list the recent ones, follow and collect one (after a kernel restart too), or cancel it.

        Example::

            %mistral_batch 5d2c3f0e-... -o labels
            %mistral_batch last
        """
        from . import batch
        from .structured import Schema

        args = parse_line(self.mistral_batch, line)
        api = batch.jobs_api(self.client, self.model)
        if not args.job:
            if args.cancel:
                raise UsageError("--cancel needs the JOB_ID of the job to cancel.")
            cards = batch.recent(api, 20)
            self.show_markdown(batch.listing(cards) if cards else "No batch jobs yet.")
            return
        if args.job == "last":
            latest = batch.recent(api, 1)
            if not latest:
                raise UsageError("No batch jobs yet: %%mistral --over NAME --batch sends one.")
            args.job = latest[0]["id"]
        try:
            path = batch.job_path(args.job)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.cancel:
            print(batch.status_line(api.call("POST", f"{path}/cancel")))
            return
        card = api.call("GET", path)
        metadata = card.get("metadata") or {}
        known = self._batches.get(args.job)
        if known is None or args.over:  # sent from another kernel (or to align anew): its metadata says how
            schema_name = metadata.get("format", "").partition("schema:")[2]
            schema = self._resolve(Schema.from_namespace, schema_name) if schema_name in self._namespace else None
            parse = self._parser(args.out or "the row", schema, metadata.get("format", "text") != "text")
            known = self._resolve(batch.reattached, card, parse, args.over)
        model = card.get("model") or self.model
        result, card = batch.finish(api, args.job, known, self._row_answers,
                                    self._progress(card.get("total_requests") or 0), self.batch_poll_interval,
                                    self._price(model), self._batches)
        self._keep_batch(result, card, args.out or metadata.get("out"))

    def _progress(self, total: int) -> Progress:
        """A progress bar in a notebook, a line in a terminal."""
        from IPython.display import display

        from . import dataset

        if not self._rich():
            return dataset.ProgressLine()
        progress = dataset.ProgressBar(total)
        display(progress.widget)
        return progress

    def _price(self, model: str) -> Callable[[int, int], float | None]:
        """What tokens of ``model`` cost, by the prices set."""
        from .prices import cost

        return lambda tokens_in, tokens_out: cost(model, {"prompt_tokens": tokens_in,
                                                          "completion_tokens": tokens_out}, self.prices, set())

    def _parser(self, name: str, schema: Schema | None, json: bool) -> Callable[[str], Any]:
        """How a reply text becomes a value: validated by --schema, parsed by --json, or kept as text."""
        from .structured import json_reply

        if schema is not None:
            return lambda text: schema.parse(text, name)
        return (lambda text: json_reply(text, name)) if json else str

    def _hand_over(self, text: str, out: str | None) -> None:
        """--code: the reply's code into a new cell (or printed, in a terminal), and into ``out``."""
        from .code_cells import hand_over, last_code

        code = last_code(text)
        hand_over(self.shell, code, notebook=self._rich())
        if out:
            self._namespace[out] = code

    def _resolve(self, make: Callable[..., Any], *args: Any) -> Any:
        """``make(*args, namespace=...)`` on the user's variables; what it refuses is a usage error."""
        try:
            return make(*args, namespace=self._namespace)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    @property
    def _namespace(self) -> dict[str, Any]:
        """The user's variables: what --vars, --schema and --tools read and -o writes."""
        assert self.shell is not None, "magics are made with a shell"
        return self.shell.user_ns  # type: ignore[no-any-return]

    def _keep(self, args: argparse.Namespace, request: Request, text: str) -> None:
        """Check the reply against --schema; give --out the text, parsed JSON or validated object."""
        from .errors import ReplyValidationError
        from .structured import json_reply

        try:
            value = (request.schema.parse(text, args.out) if request.schema
                     else json_reply(text, args.out) if args.json else text)
        except ReplyValidationError:
            if args.out:
                self._namespace[args.out] = text
            raise
        if args.out:
            self._namespace[args.out] = value

    def _dry_run(self, args: argparse.Namespace, conversation: Conversation, request: Request) -> None:
        from . import preview
        from .compare import combinations

        self._show_bodies(args, preview.bodies(self.client, conversation,
                                               combinations(request) if args.compare else [request]))

    def _show_bodies(self, args: argparse.Namespace, shown: list[dict[str, Any]]) -> None:
        """--dry-run: the bodies shown, and given to --out (a list of them with --compare)."""
        from . import preview

        self.show_markdown(preview.markdown(shown))
        if args.out and shown:
            self._namespace[args.out] = shown if args.compare else shown[0]

    def _compare(self, args: argparse.Namespace, conversation: Conversation, request: Request) -> None:
        from IPython.display import display

        from .compare import compare

        records = compare(self.client, conversation, request, interval=self.update_interval,
                          display=display if self._rich() else None)
        if args.out:
            self._namespace[args.out] = records

    def _rich(self) -> bool:
        if self.output == "auto":
            return getattr(self.shell, "kernel", None) is not None
        return self.output == "markdown"

    def _sink(self) -> Sink:
        from .cell_output import LiveMarkdown, LiveText

        return LiveMarkdown(interval=self.update_interval) if self._rich() else LiveText()

    def show_markdown(self, markdown: str) -> None:
        """Show Markdown rendered in a notebook; in a terminal as plain text, its tables in aligned columns."""
        if self._rich():
            from IPython.display import display

            from .render import bundle

            display(bundle(markdown), raw=True)
        else:
            from .plain_tables import plain_text

            print(plain_text(markdown))


_EXPLAIN = ("Explain briefly why this error happened, then show how to fix it, with the corrected code "
            "in one ```python block.")

_CONFLICTS = (
    ("prefix", "tools", "the prefix must be the last message, and tool results come after it"),
    ("code", "json", "JSON is not code to run"),
    ("code", "schema", "JSON is not code to run"),
    ("code", "compare", "several replies cannot share one new cell"),
    ("over", "compare", "each row is already a request of its own"),
    ("over", "tools", "rows are answered whole, without tool rounds"),
    ("over", "code", "several replies cannot share one new cell"),
    ("over", "vars", "--over fills {name} from each row"),
    ("over", "context", "the template is filled per row, and a description's braces would be read as fields"),
    ("over", "new", "rows use no history, so there is nothing to start afresh"),
    ("batch", "concurrency", "a batch job runs at Mistral's pace, outside the rate limits"),
    ("json", "schema", "--schema already asks for JSON"),
    ("dry_run", "new", "a dry run changes nothing, so it cannot start the conversation afresh"),
)


def _check_combinations(args: argparse.Namespace) -> None:
    """Refuse options that cannot work together, before anything is sent or changed."""
    for first, second, why in _CONFLICTS:
        if getattr(args, first) and getattr(args, second):
            raise UsageError(f"--{first.replace('_', '-')} and --{second} do not go together: {why}.")
    if args.batch and not args.over:
        raise UsageError("--batch sends the rows of a table as one job: add --over NAME.")
    several = [name for name in ("model", *params.COMPARABLE) if isinstance(getattr(args, name), tuple)]
    if several and not args.compare:
        flags = ", ".join("--" + name.replace("_", "-") for name in several)
        raise UsageError(f"{flags} got several values: add --compare to run each side by side.")
    if args.compare and not several:
        raise UsageError("--compare needs several comma-separated values of a setting, such as "
                         "-m mistral-small-latest,mistral-large-latest or -t 0,0.7.")
