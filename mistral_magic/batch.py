"""``--batch``: ``--over``'s rows as one job on Mistral's Batch API, watched, then joined back to the table.

Mistral runs a batch job on its side, at half the price and outside the rate
limits: the engine for a table too large to answer from a kernel. A small job
carries its rows inline; a larger one uploads them as a JSONL file. Each row's
``custom_id`` is its position, so results fall back into place in whatever
order the output file lists them. The job's metadata names the table, the
variable and the reply format, so ``%mistral_batch JOB_ID`` can collect it in a
kernel that never saw it sent (after a restart, say).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .dataset import Answer, Progress, Rows, Tally, Template, aligned, rows_of, summary, unanswered, value_of
from .errors import ConfigError, MistralError, ReplyInterrupted, one_line
from .params import KEY_VARIABLE
from .protocol import Reply, status_error

if TYPE_CHECKING:
    from .backend import Backend, Chunk, Payload

__all__ = ["DISCOUNT", "FINISHED", "JOBS", "JobRows", "JobsAPI", "finish", "job_path", "jobs_api", "join",
           "listing", "plan", "reattached", "recent", "results", "run", "send", "status_line", "watch"]

JOBS = "/v1/batch/jobs"
CHAT = "/v1/chat/completions"
INLINE_MOST = 1_000  # rows carried in the job itself; a larger job uploads them as a file
FINISHED = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})
DISCOUNT = 0.5  # batch requests cost half the list price
FIRST_POLL = 1.0  # seconds before the second poll; later polls back off by half as much again each time
SOURCE = "mistral-magic"  # metadata["source"]: a job this package sent


class JobsAPI(Protocol):
    """What a batch job needs of a server: JSON calls, a file upload, a file's content."""

    def call(self, method: str, path: str, payload: Payload | None = None, *,
             query: Mapping[str, Any] | None = None) -> Chunk: ...
    def upload(self, filename: str, content: bytes, purpose: str) -> Chunk: ...
    def download(self, file_id: str) -> bytes: ...


def jobs_api(backend: Backend, model: str) -> JobsAPI:
    """The HTTP client that sends ``backend``'s batch jobs; one clear error where there is no Batch API."""
    from .client import MistralClient
    from .local import is_local
    from .router import Router

    if is_local(model):
        raise ConfigError(f"--batch: {model} answers in this kernel, so it has no Batch API; "
                          "use --over alone.")
    if isinstance(backend, Router):
        if backend.offline():
            raise ConfigError("--batch sends the rows to Mistral's Batch API, and no key is set "
                              f"({backend.remote.api_key_env}); --over alone answers them offline.")
        backend = backend.remote
    if not isinstance(backend, MistralClient) or backend.dialect != "mistral":
        where = getattr(backend, "base_url", type(backend).__name__)
        raise ConfigError(f"--batch is Mistral's Batch API, which {where} (an OpenAI-compatible server) does "
                          "not offer; --over alone sends the rows to any server.")
    return backend


@dataclass
class JobRows:
    """A job's rows as this kernel knows them: what its results align with, and where they are kept."""

    rows: Rows
    name: str
    parse: Callable[[str], Any]
    answers: list[Answer | None]  # rows answered before the job (or refused): not in it
    keys: dict[int, bytes]  # each row in the job: the key of its request body among the answers kept


def plan(rows: Rows, template: Template, body: Callable[[str], Payload], *, name: str,
         parse: Callable[[str], Any], cache: Mapping[bytes, Answer]) -> tuple[JobRows, list[Payload]]:
    """The rows not answered yet as the job's lines, and how to join the job's results back.

    A line is the row's chat request without ``model`` (the job's) or ``stream``.
    """
    answers: list[Answer | None] = [None] * len(rows.items)
    keys: dict[int, bytes] = {}
    lines = []
    for position, key, payload in unanswered(rows, body, template, cache, answers, Tally(len(rows.items))):
        keys[position] = key
        lines.append({"custom_id": str(position),
                      "body": {field: value for field, value in payload.items() if field not in ("model", "stream")}})
    return JobRows(rows, name, parse, answers, keys), lines


def send(api: JobsAPI, lines: list[Payload], model: str, name: str, metadata: Mapping[str, str]) -> Chunk:
    """Create the job: its lines inline when few, else uploaded as a JSONL file; its card."""
    job: dict[str, Any] = {"endpoint": CHAT, "model": model,
                           "metadata": {**metadata, "source": SOURCE}}
    if len(lines) <= INLINE_MOST:
        job["requests"] = lines
    else:
        content = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
        job["input_files"] = [api.upload(f"{name}.jsonl", content, "batch")["id"]]
    return api.call("POST", JOBS, job)


def run(api: JobsAPI, rows: JobRows, lines: list[Payload], model: str, *, cache: dict[bytes, Answer],
        pending: dict[str, JobRows], metadata: Mapping[str, str], progress: Progress | None, most: float,
        price: Callable[[int, int], float | None]) -> tuple[Any, Chunk | None]:
    """The planned rows' results, aligned, and the job's last card (None when every row was answered before).

    A job still ``pending`` for the same rows (its watch was interrupted) is followed, not sent again.
    """
    if not lines:
        result, line = join(rows, None, {}, cache, price)
        if progress is not None:
            progress.close(line)
        return result, None
    keys = set(rows.keys.values())
    job_id = next((job for job, known in pending.items() if set(known.keys.values()) == keys), None)
    if job_id is None:
        card = send(api, lines, model, rows.name, {**metadata, "rows": str(len(rows.answers))})
        job_id = card["id"]
        pending[job_id] = rows
        if progress is not None:
            progress.show(status_line(card), 0, len(lines))
    elif progress is not None:
        print(f"Following batch job {job_id}, sent before for these rows.")
    return finish(api, job_id, rows, cache, progress, most, price, pending)


def finish(api: JobsAPI, job_id: str, rows: JobRows, cache: dict[bytes, Answer], progress: Progress | None,
           most: float, price: Callable[[int, int], float | None],
           pending: dict[str, JobRows]) -> tuple[Any, Chunk]:
    """Watch the job to its end, then join its results; Ctrl-C leaves it running (and ``pending``) and
    says how to come back."""
    try:
        card = watch(api, job_id, progress, most)
    except KeyboardInterrupt:
        raise ReplyInterrupted(f"stopped watching batch job {job_id}, which runs on: %mistral_batch {job_id} "
                               "collects it, and --cancel stops it.") from None
    result, line = join(rows, card, results(api, card), cache, price)
    pending.pop(job_id, None)
    if progress is not None:
        progress.close(f"batch job {job_id} {card.get('status')} · {line}")
    return result, card


def watch(api: JobsAPI, job_id: str, progress: Progress | None, most: float) -> Chunk:
    """Poll the job until it ends, showing its status and counts; waits grow from 1 s to ``most``.

    Ctrl-C stops watching, not the job.
    """
    wait, started = min(FIRST_POLL, most), time.monotonic()
    while True:
        card = api.call("GET", job_path(job_id))
        if progress is not None:
            progress.show(status_line(card, time.monotonic() - started), card.get("completed_requests") or 0,
                          card.get("total_requests") or 0)
        if card.get("status") in FINISHED:
            return card
        time.sleep(wait)
        wait = min(wait * 1.5, most)


def status_line(card: Chunk, elapsed: float | None = None) -> str:
    """``batch job 3f2a… · RUNNING · 1,200 of 5,000 requests · 3 failed · 12 s``."""
    parts = [f"batch job {card.get('id')}", str(card.get("status"))]
    total = card.get("total_requests")
    if total:
        parts.append(f"{card.get('completed_requests') or 0:,} of {total:,} requests")
    if card.get("failed_requests"):
        parts.append(f"{card['failed_requests']:,} failed")
    parts += [error.get("message", "") for error in card.get("errors") or [] if isinstance(error, dict)]
    if elapsed is not None:
        parts.append(f"{elapsed:.0f} s")
    return " · ".join(part for part in parts if part)


def results(api: JobsAPI, card: Chunk) -> dict[str, Answer]:
    """An ended job's answers by ``custom_id``, from its output and error files (or inline outputs)."""
    found: dict[str, Answer] = {}
    for file_id in (card.get("output_file"), card.get("error_file")):
        if file_id:
            for line in api.download(file_id).splitlines():
                if line.strip():
                    _put(found, json.loads(line))
    for item in card.get("outputs") or []:
        _put(found, item)
    return found


def join(rows: JobRows, card: Chunk | None, found: Mapping[str, Answer], cache: dict[bytes, Answer],
         price: Callable[[int, int], float | None]) -> tuple[Any, str]:
    """The results aligned with the rows, and the summary line; each new answer kept in ``cache``.

    A row the job did not answer holds nothing and says why.
    """
    missing = Answer(error=f"no result: the batch job ended {(card or {}).get('status')}")
    answers = [answer or found.get(str(position), missing) for position, answer in enumerate(rows.answers)]
    for position, key in rows.keys.items():
        if answers[position].error is None:
            cache[key] = answers[position]
    values = [value_of(rows.parse, answer) for answer in answers]
    ran = ((card.get("completed_at") or 0) - (card.get("created_at") or 0)) if card else 0
    tally = Tally(len(answers), started=time.monotonic() - max(ran, 0))
    for before, answer in zip(rows.answers, answers):
        if before is not None and before.error is None:
            tally.done += 1
            tally.kept += 1
        else:
            tally.add(answer)
    return aligned(rows.rows, answers, values, rows.name), summary(tally, _discounted(price))


def _discounted(price: Callable[[int, int], float | None]) -> Callable[[int, int], float | None]:
    def batch_price(tokens_in: int, tokens_out: int) -> float | None:
        spent = price(tokens_in, tokens_out)
        return None if spent is None else spent * DISCOUNT
    return batch_price


def _put(found: dict[str, Answer], item: Any) -> None:
    """One result line (``{"custom_id", "response": {"status_code", "body"}, "error"}``) as its row's answer."""
    if not isinstance(item, dict):
        return
    response = item.get("response") or {}
    status, body = response.get("status_code"), response.get("body")
    if item.get("error"):
        answer = Answer(error=f"batch: {item['error']}")
    elif status == 200 and isinstance(body, dict):
        reply = Reply()
        try:
            reply.add_response(body)
            answer = Answer(reply.text, reply.usage)
        except MistralError as exc:
            answer = Answer(error=one_line(exc))
    else:
        content = json.dumps(body).encode() if body is not None else b""
        answer = Answer(error=one_line(status_error(int(status or 500), content, {}, KEY_VARIABLE)))
    found[str(item.get("custom_id"))] = answer


def reattached(card: Chunk, parse: Callable[[str], Any], over: str | None, *,
               namespace: Mapping[str, Any]) -> JobRows:
    """How to collect a job this kernel did not send: aligned with the table ``over`` (else the one its
    metadata names), which must hold as many rows, or in a list in row order when no such table is defined."""
    metadata = card.get("metadata") or {}
    total = int(metadata.get("rows") or card.get("total_requests") or 0)
    name = over or metadata.get("over", "")
    rows = Rows([None] * total)
    if name in namespace:
        rows = rows_of(namespace[name], name)
        if len(rows.items) != total:
            raise ValueError(f"{name} has {len(rows.items):,} rows, and the batch job was sent for {total:,}: "
                             "give --over the table it was sent for.")
    elif over:
        raise ValueError(f"--over: no variable named {over}. Define it in a cell first.")
    return JobRows(rows, metadata.get("out") or name or "result", parse, [None] * total, {})


def job_path(job_id: str) -> str:
    """The job's URL path; ``ValueError`` for an id no job could have."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", job_id):
        raise ValueError(f"{job_id!r} is not a batch job id: %mistral_batch lists the recent ones.")
    return f"{JOBS}/{job_id}"


def recent(api: JobsAPI, count: int) -> list[Chunk]:
    """The cards of the ``count`` latest jobs, newest first."""
    cards = api.call("GET", JOBS, query={"page_size": count}).get("data")
    return cards if isinstance(cards, list) else []


def listing(cards: list[Chunk]) -> str:
    """Recent jobs as a Markdown table: id, status, counts, model, when, where its results go."""
    lines = ["| job | status | done | failed | model | created | -o |", "|---|---|---|---|---|---|---|"]
    for card in cards:
        metadata = card.get("metadata") or {}
        created = card.get("created_at")
        when = datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M") if isinstance(created, int) else ""
        lines.append(f"| {card.get('id')} | {card.get('status')} | {card.get('completed_requests') or 0:,} of "
                     f"{card.get('total_requests') or 0:,} | {card.get('failed_requests') or 0:,} | "
                     f"{card.get('model') or ''} | {when} | {metadata.get('out', '')} |")
    return "\n".join(lines)
