"""Mistral's Batch API: jobs over uploaded JSONL files or inline requests, which progress as polled.

Why: a client sends a dataset as a batch job and collects it (§1.5), so it must see a job go
QUEUED → RUNNING (with growing counts) → SUCCESS and read its output and error files. Time
plays no part: each GET of a job moves it one step, so a test decides how far it gets. Each
line is answered by the chat route's own checks and replies through a Capture (the next queued
script, else the default reply, as for a chat request), so a result line holds exactly what
POST /v1/chat/completions would have answered.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .exchange import Capture, Exchange, compact
from .files import StoredFile, find_file, find_stored, parse_uuid, uuid_detail
from .request import CHAT_PATH, Recorded, parse_json
from .scripts import Script, detail, error, invalid_model, invalid_request, reply, validation_body
from .validation import extra_problems, one_of, validate_chat

if TYPE_CHECKING:
    from .server import MistralServer

BATCH_PATH = "/v1/batch/jobs"

# The endpoints §1.5 names (it ends in "…": the API has more); only chat completions are emulated.
BATCH_ENDPOINTS = (CHAT_PATH, "/v1/fim/completions", "/v1/embeddings", "/v1/moderations", "/v1/ocr")
BATCH_STATUSES = ("QUEUED", "RUNNING", "SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLATION_REQUESTED",
                  "CANCELLED")
FINISHED = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})

# BatchJobIn (§1.5), with extra fields refused as in every request schema of the API.
JOB_FIELDS = frozenset({"endpoint", "model", "input_files", "requests", "metadata", "agent_id", "timeout_hours"})
REQUEST_FIELDS = frozenset({"custom_id", "body"})
MAX_INLINE_REQUESTS = 10_000  # the spec's maxItems; the docs' limits differ (§11 #13)
METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 32, 512
ORDER_BY = ("created", "-created")
FAILED_MESSAGE = "Batch job failed"


# --------------------------------------------------------------------------- BatchJobIn


def _length_problems(loc: list, text: str, longest: int) -> list[dict]:
    if not text:
        return [detail("string_too_short", loc, "String should have at least 1 character", text)]
    if len(text) > longest:
        return [detail("string_too_long", loc, f"String should have at most {longest} characters", text)]
    return []


def _optional_string(loc: list, value: Any) -> list[dict]:
    return [] if value is None or isinstance(value, str) else [
        detail("string_type", loc, "Input should be a valid string", value)]


def _metadata_problems(metadata: Any) -> list[dict]:
    """A string→string map, keys of 1–32 characters and values of 1–512 (§1.5); loc as pydantic gives it."""
    loc = ["body", "metadata"]
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return [detail("dict_type", loc, "Input should be a valid dictionary", metadata)]
    problems = []
    for key, value in metadata.items():
        problems += _length_problems([*loc, key, "[key]"], key, METADATA_KEY_CHARS)
        if isinstance(value, str):
            problems += _length_problems([*loc, key], value, METADATA_VALUE_CHARS)
        else:
            problems.append(detail("string_type", [*loc, key], "Input should be a valid string", value))
    return problems


def _input_files_problems(input_files: Any) -> list[dict]:
    loc = ["body", "input_files"]
    if input_files is None:
        return []
    if not isinstance(input_files, list):
        return [detail("list_type", loc, "Input should be a valid list", input_files)]
    return [uuid_detail([*loc, i], file_id) for i, file_id in enumerate(input_files)
            if not isinstance(file_id, str) or parse_uuid(file_id) is None]


def _request_problems(i: int, item: Any) -> list[dict]:
    """One inline request: `{custom_id?, body}`, the body a chat request (checked when the job runs)."""
    loc: list = ["body", "requests", i]
    if not isinstance(item, dict):
        return [detail("model_attributes_type", loc, "Input should be a valid dictionary or object", item)]
    problems = extra_problems(loc, item, REQUEST_FIELDS) + _optional_string([*loc, "custom_id"], item.get("custom_id"))
    if "body" not in item:
        problems.append(detail("missing", [*loc, "body"], "Field required", item))
    elif not isinstance(item["body"], dict):
        problems.append(detail("dict_type", [*loc, "body"], "Input should be a valid dictionary", item["body"]))
    return problems


def _requests_problems(requests: Any) -> list[dict]:
    loc = ["body", "requests"]
    if requests is None:
        return []
    if not isinstance(requests, list):
        return [detail("list_type", loc, "Input should be a valid list", requests)]
    if len(requests) > MAX_INLINE_REQUESTS:
        return [detail("too_long", loc, f"List should have at most {MAX_INLINE_REQUESTS} items after validation, "
                                         f"not {len(requests)}", requests)]
    return [problem for i, item in enumerate(requests) for problem in _request_problems(i, item)]


def _job_problems(raw_body: bytes) -> list[dict]:
    """Everything pydantic would reject in a BatchJobIn with a 422, collected like pydantic does."""
    ok, body = parse_json(raw_body)
    if not ok:
        return [detail("json_invalid", ["body", 0], "JSON decode error", {})]
    if not isinstance(body, dict):
        return [detail("model_attributes_type", ["body"], "Input should be a valid dictionary or object", body)]
    problems = extra_problems(["body"], body, JOB_FIELDS)
    if "endpoint" not in body:
        problems.append(detail("missing", ["body", "endpoint"], "Field required", body))
    elif body["endpoint"] not in BATCH_ENDPOINTS:
        problems.append(detail("enum", ["body", "endpoint"], one_of(BATCH_ENDPOINTS), body["endpoint"]))
    problems += _optional_string(["body", "model"], body.get("model"))
    problems += _optional_string(["body", "agent_id"], body.get("agent_id"))
    hours = body.get("timeout_hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int)):
        problems.append(detail("int_type", ["body", "timeout_hours"], "Input should be a valid integer", hours))
    problems += (_metadata_problems(body.get("metadata")) + _input_files_problems(body.get("input_files"))
                 + _requests_problems(body.get("requests")))
    # The model-level check runs only once every field is valid, as a pydantic model validator does.
    if not problems and bool(body.get("input_files")) == bool(body.get("requests")):
        problems.append(detail("value_error", ["body"], "Value error, Provide either input_files or requests", body))
    return problems


# --------------------------------------------------------------------------- jobs


@dataclass
class BatchLine:
    """One request of a job; body None means its input line was no batch request (`problem` says why)."""

    custom_id: Any
    body: dict | None
    problem: str = ""


def _file_lines(stored: StoredFile) -> list[BatchLine]:
    """Input JSONL (§1.5): one `{"custom_id": …, "body": {…}}` per non-blank line."""
    lines = []
    for number, raw in stored.lines():
        ok, item = parse_json(raw)
        item = item if ok and isinstance(item, dict) else {}
        if isinstance(item.get("body"), dict):
            lines.append(BatchLine(item.get("custom_id"), item["body"]))
        else:
            lines.append(BatchLine(item.get("custom_id"), None, f"Line {number} of file {stored.id} is not a "
                                   'batch request: expected {"custom_id": ..., "body": {...}}'))
    return lines


def _result_line(server: MistralServer, model: str | None, line: BatchLine) -> dict:
    """The chat route's answer to one line, as an output line (§1.5).

    The job's model fills in for a body without one. §1.5 gives no error-file shape: a failed
    line keeps the output line's shape, with the 4xx status and error body under `response`
    and `error` null.
    """
    if line.body is None:
        ex, script = Capture(server, {}), invalid_request(line.problem)
    else:
        body = {"model": model, **line.body} if model and "model" not in line.body else line.body
        ex = Capture(server, body)
        script = validate_chat(compact(body).encode(), server.models) or server._next_script() or reply()
    script.run(ex)
    return {"id": str(uuid.uuid4()), "custom_id": line.custom_id,
            "response": {"status_code": ex.status, "body": json.loads(ex.data)}, "error": None}


def _succeeded(result: dict) -> bool:
    return bool(result["response"]["status_code"] == 200)


@dataclass
class BatchJob:
    """One job and how far it has got; `running_polls` GETs see it RUNNING before it ends."""

    endpoint: str
    model: str | None
    agent_id: str | None
    metadata: dict | None
    input_files: list[str]
    lines: list[BatchLine]
    running_polls: int
    failure: str | None = None  # set: the job ends FAILED with this message
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "QUEUED"
    polls: int = 0
    results: list[dict] = field(default_factory=list)
    completed: int = 0
    started_at: int | None = None
    completed_at: int | None = None
    output_file: str | None = None
    error_file: str | None = None
    errors: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def card(self) -> dict:
        """BatchJobOut (§1.5). Counts cover the results done so far."""
        succeeded = sum(map(_succeeded, self.results[: self.completed]))
        return {"id": self.id, "object": "batch", "input_files": self.input_files, "metadata": self.metadata,
                "endpoint": self.endpoint, "model": self.model, "agent_id": self.agent_id, "errors": self.errors,
                "status": self.status, "created_at": self.created_at, "total_requests": len(self.lines),
                "completed_requests": self.completed, "succeeded_requests": succeeded,
                "failed_requests": self.completed - succeeded, "started_at": self.started_at,
                "completed_at": self.completed_at, "output_file": self.output_file, "error_file": self.error_file,
                "outputs": None}

    def advance(self, server: MistralServer) -> None:
        """One poll's step: QUEUED on the first, RUNNING on the next `running_polls`, then the end.

        Every line is answered when the job starts running; the counts then reveal the results
        a share at a time, and the files are written when it ends.
        """
        if self.status in FINISHED:
            return
        if self.status == "CANCELLATION_REQUESTED":
            return self._end("CANCELLED")
        self.polls += 1
        if self.polls == 1:
            return
        if self.started_at is None:
            self.started_at = int(time.time())
            self.results = [_result_line(server, self.model, line) for line in self.lines]
        step = self.polls - 1
        if step <= self.running_polls:
            self.status = "RUNNING"
            self.completed = len(self.lines) * step // (self.running_polls + 1)
            return
        if self.failure is not None:
            self.errors = [{"message": self.failure, "count": 1}]
            return self._end("FAILED")
        self.completed = len(self.lines)
        self.output_file = self._write(server, "output", "batch_result", [r for r in self.results if _succeeded(r)])
        self.error_file = self._write(server, "error", "batch_error", [r for r in self.results if not _succeeded(r)])
        self._end("SUCCESS")

    def cancel(self) -> None:
        """Only a job still queued or running is cancelled; any other is left as it is."""
        if self.status in ("QUEUED", "RUNNING"):
            self.status = "CANCELLATION_REQUESTED"

    def _end(self, status: str) -> None:
        self.status = status
        self.completed_at = int(time.time())

    def _write(self, server: MistralServer, kind: str, sample_type: str, results: list[dict]) -> str | None:
        """A result file (JSONL, purpose batch), or None when no line belongs in it."""
        if not results:
            return None
        content = b"".join(compact(result).encode() + b"\n" for result in results)
        stored = StoredFile(f"{self.id}_{kind}.jsonl", "batch", content, sample_type, source="mistral")
        with server._lock:
            server.files[stored.id] = stored
        return stored.id


# --------------------------------------------------------------------------- routes


def _new_job(ex: Exchange, body: dict) -> BatchJob | Script:
    """The job a valid BatchJobIn asks for, or the 400/404 the API would answer instead."""
    server, endpoint, model = ex.server, body["endpoint"], body.get("model")
    if endpoint != CHAT_PATH:
        return invalid_request(f"Batch jobs for {endpoint} are not emulated")
    if model is not None and model not in server.models:
        return invalid_model(model)
    lines, file_ids = [], []
    for file_id in body.get("input_files") or []:
        found = find_file(ex, file_id)
        if isinstance(found, Script):
            return found
        if found.purpose != "batch":
            return invalid_request(f"File {found.id} has purpose {found.purpose}, not batch")
        file_ids.append(found.id)
        lines += _file_lines(found)
    lines += [BatchLine(item.get("custom_id"), item["body"]) for item in body.get("requests") or []]
    with server._lock:
        fail, server.batch_fail_next = server.batch_fail_next, False
    failure = fail if isinstance(fail, str) else FAILED_MESSAGE if fail else None
    return BatchJob(endpoint, model, body.get("agent_id"), body.get("metadata"), file_ids, lines,
                    server.batch_polls, failure)


def answer_create(ex: Exchange, rec: Recorded) -> None:
    """POST /v1/batch/jobs: a QUEUED job, or the 422/400/404 its body earns."""
    problems = _job_problems(rec.raw)
    if problems:
        return error(422, validation_body(problems, 2)).run(ex)
    job = _new_job(ex, json.loads(rec.raw))
    if isinstance(job, Script):
        return job.run(ex)
    with ex.server._lock:
        ex.server.batch_jobs[job.id] = job
    ex.send_json(200, job.card())


def _find_job(ex: Exchange, job_id: str) -> BatchJob | Script:
    return find_stored(ex, ex.server.batch_jobs, job_id, "job_id", "Batch job")


def answer_job(ex: Exchange, rec: Recorded, job_id: str) -> None:
    """GET /v1/batch/jobs/{job_id}: each GET is a poll, and moves the job one step."""
    job = _find_job(ex, job_id)
    if isinstance(job, Script):
        return job.run(ex)
    with job.lock:
        job.advance(ex.server)
        card = job.card()
    ex.send_json(200, card)


def answer_cancel(ex: Exchange, rec: Recorded, job_id: str) -> None:
    """POST /v1/batch/jobs/{job_id}/cancel: CANCELLATION_REQUESTED, CANCELLED on the next poll."""
    job = _find_job(ex, job_id)
    if isinstance(job, Script):
        return job.run(ex)
    with job.lock:
        job.cancel()
        card = job.card()
    ex.send_json(200, card)


def _timestamp(text: str) -> int | None:
    """Unix seconds from an ISO 8601 datetime (UTC when it names no zone) or from an integer."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


@dataclass
class _ListQuery:
    """The query of GET /v1/batch/jobs that this server applies, with the 422 details it earns.

    agent_id, metadata and created_by_me are accepted and ignored: every job here is the caller's.
    """

    page: int = 0
    page_size: int = 100
    model: str | None = None
    statuses: list[str] = field(default_factory=list)
    created_after: int | None = None
    order_by: str = "-created"
    problems: list[dict] = field(default_factory=list)

    @classmethod
    def parse(cls, path: str) -> _ListQuery:
        """Repeated `status` (or `status[]`) parameters filter on any of their values."""
        query = parse_qs(urlsplit(path).query)
        parsed = cls(model=(query.get("model") or [None])[-1],
                     statuses=query.get("status", []) + query.get("status[]", []))
        parsed.page = parsed._count(query, "page", parsed.page)
        parsed.page_size = parsed._count(query, "page_size", parsed.page_size)
        parsed.problems += [detail("enum", ["query", "status", i], one_of(BATCH_STATUSES), status)
                            for i, status in enumerate(parsed.statuses) if status not in BATCH_STATUSES]
        if "order_by" in query:
            parsed.order_by = query["order_by"][-1]
            if parsed.order_by not in ORDER_BY:
                parsed.problems.append(detail("enum", ["query", "order_by"], one_of(ORDER_BY), parsed.order_by))
        if "created_after" in query:
            text = query["created_after"][-1]
            parsed.created_after = _timestamp(text)
            if parsed.created_after is None:
                parsed.problems.append(detail("datetime_from_date_parsing", ["query", "created_after"],
                                              "Input should be a valid datetime or date", text))
        return parsed

    def _count(self, query: dict[str, list[str]], name: str, default: int) -> int:
        """A non-negative integer parameter."""
        if name not in query:
            return default
        text = query[name][-1]
        try:
            value = int(text)
        except ValueError:
            self.problems.append(detail("int_parsing", ["query", name],
                                        "Input should be a valid integer, unable to parse string as an integer", text))
            return default
        if value < 0:
            self.problems.append(detail("greater_than_equal", ["query", name],
                                        "Input should be greater than or equal to 0", text))
            return default
        return value

    def keeps(self, job: BatchJob) -> bool:
        return ((self.model is None or job.model == self.model)
                and (not self.statuses or job.status in self.statuses)
                and (self.created_after is None or job.created_at >= self.created_after))


def answer_list(ex: Exchange, rec: Recorded) -> None:
    """GET /v1/batch/jobs: `{"object": "list", "data": [...], "total": N}`, total counting every match.

    Listing is no poll: the jobs are shown as they stand.
    """
    query = _ListQuery.parse(rec.path)
    if query.problems:
        return error(422, validation_body(query.problems, 2)).run(ex)
    with ex.server._lock:
        jobs = list(ex.server.batch_jobs.values())  # in creation order
    cards = []
    for job in jobs:
        with job.lock:
            if query.keeps(job):
                cards.append(job.card())
    if query.order_by == "-created":
        cards.reverse()
    start = query.page * query.page_size
    ex.send_json(200, {"object": "list", "data": cards[start: start + query.page_size], "total": len(cards)})
