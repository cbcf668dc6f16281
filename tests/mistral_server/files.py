"""Mistral's Files API: multipart uploads, file objects and their content, kept in memory.

Why: batch jobs (batch.py) read their input from uploaded JSONL files and write their results
as files, so a client sending a dataset needs upload and download as the API offers them
(§1.2, §1.5). The reference gives no file schema: the file object has the fields of the
API's own (`id`, `object`, `bytes`, `created_at`, `filename`, `purpose`, `sample_type`,
`source`, `num_lines`).
"""
from __future__ import annotations

import email.parser
import email.policy
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from .exchange import Exchange
from .request import Recorded
from .scripts import Script, detail, error, not_found, validation_body
from .validation import one_of

FILES_PATH = "/v1/files"

# §1.5 names only `batch` (batch input and output); fine-tune and ocr are the API's other purposes.
FILE_PURPOSES = ("fine-tune", "batch", "ocr")

# What a file holds, by how it came to be.
SAMPLE_TYPES = {"batch": "batch_request", "fine-tune": "instruct", "ocr": "ocr_input"}


@dataclass
class StoredFile:
    """One file: uploaded (source "upload") or written by a batch job (source "mistral")."""

    filename: str
    purpose: str
    content: bytes
    sample_type: str
    source: str = "upload"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: int = field(default_factory=lambda: int(time.time()))

    def lines(self) -> list[tuple[int, bytes]]:
        """The non-blank lines with their 1-based numbers, as a JSONL reader sees them."""
        return [(number, line) for number, line in enumerate(self.content.splitlines(), 1) if line.strip()]

    def card(self) -> dict:
        num_lines = len(self.lines()) if self.filename.endswith(".jsonl") else None
        return {"id": self.id, "object": "file", "bytes": len(self.content), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "sample_type": self.sample_type,
                "source": self.source, "num_lines": num_lines}


def parse_uuid(value: str) -> str | None:
    """The canonical form of a UUID path or body value, None if it is not one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def uuid_detail(loc: list, value: Any) -> dict:
    return detail("uuid_parsing", loc, "Input should be a valid UUID", value)


def _form_parts(rec: Recorded) -> list[EmailMessage]:
    """The parts of a multipart/form-data body, parsed as MIME; none for any other body."""
    content_type = rec.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return []
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + rec.raw)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return []
    return [part for part in message.iter_parts() if isinstance(part, EmailMessage)]


def _text(part: EmailMessage) -> str:
    """A plain form field's value, whatever content type the client gave it."""
    return (part.get_payload(decode=True) or b"").decode("utf-8", "replace").strip()


def _upload_problems(fields: dict[str, EmailMessage]) -> list[dict]:
    """What FastAPI would reject with a 422: no file, a plain field as the file, a bad purpose."""
    problems = []
    part = fields.get("file")
    if part is None:
        problems.append(detail("missing", ["body", "file"], "Field required", None))
    elif part.get_filename() is None:
        problems.append(detail("value_error", ["body", "file"],
                               "Value error, Expected UploadFile, received: <class 'str'>", _text(part)))
    purpose = fields.get("purpose")
    if purpose is None:
        problems.append(detail("missing", ["body", "purpose"], "Field required", None))
    elif _text(purpose) not in FILE_PURPOSES:
        problems.append(detail("enum", ["body", "purpose"], one_of(FILE_PURPOSES), _text(purpose)))
    return problems


def answer_upload(ex: Exchange, rec: Recorded) -> None:
    """POST /v1/files: multipart fields `file` (with a filename) and `purpose`."""
    fields = {part.get_param("name", header="content-disposition"): part for part in _form_parts(rec)}
    problems = _upload_problems(fields)
    if problems:
        return error(422, validation_body(problems, 2)).run(ex)
    part, purpose = fields["file"], _text(fields["purpose"])
    stored = StoredFile(part.get_filename() or "", purpose, part.get_payload(decode=True) or b"",
                        SAMPLE_TYPES[purpose])
    with ex.server._lock:
        ex.server.files[stored.id] = stored
    ex.send_json(200, stored.card())


def answer_list(ex: Exchange, rec: Recorded) -> None:
    """GET /v1/files: every file, oldest first, as `{"object": "list", "data": [...], "total": N}`."""
    with ex.server._lock:
        cards = [stored.card() for stored in ex.server.files.values()]
    ex.send_json(200, {"object": "list", "data": cards, "total": len(cards)})


def find_stored(ex: Exchange, store: dict, given: str, field: str, what: str) -> Any:
    """What a path's id names in ``store``, else the 422 (not a UUID) or 404 (unknown) it earns."""
    canonical = parse_uuid(given)
    if canonical is None:
        return error(422, validation_body([uuid_detail(["path", field], given)], 2))
    with ex.server._lock:
        stored = store.get(canonical)
    return stored or not_found(f"{what} {canonical} not found")


def find_file(ex: Exchange, file_id: str) -> StoredFile | Script:
    """The file a path names, else the error it earns."""
    return find_stored(ex, ex.server.files, file_id, "file_id", "File")


def answer_file(ex: Exchange, rec: Recorded, file_id: str) -> None:
    found = find_file(ex, file_id)
    if isinstance(found, Script):
        return found.run(ex)
    ex.send_json(200, found.card())


def answer_content(ex: Exchange, rec: Recorded, file_id: str) -> None:
    """The raw bytes, as application/octet-stream (§1.5)."""
    found = find_file(ex, file_id)
    if isinstance(found, Script):
        return found.run(ex)
    ex.send_bytes(200, found.content, "application/octet-stream")
