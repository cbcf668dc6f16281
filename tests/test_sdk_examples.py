"""Programs written for Mistral's own client (``tests/sdk_examples``) print the same with our ``Mistral``.

Each program is run twice against the loopback server: as written, with the
official ``mistralai`` client, and with only its ``Mistral`` import changed to
ours. Both runs get the same scripted answers; their output must be the same,
ours must send the very bodies the official client sends, and every one must be
one the official request models accept.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import threading
from pathlib import Path

import pytest

import mistral_server as ms
from helpers import OFFICIAL_CLIENT, call, chat_bodies
from wire_contract import assert_valid_chat_request

pytest.importorskip("mistralai.client", reason=OFFICIAL_CLIENT)

EXAMPLES = Path(__file__).parent / "sdk_examples"
OFFICIAL = "from mistralai.client import Mistral"
OURS = "from mistral_magic import Mistral"
BOOK = '{"name": "To Kill a Mockingbird", "authors": [{"name": "Harper Lee"}]}'
SCRIPTS = {  # what the model answers, where the echo would not do
    "tools.py": lambda: [ms.reply(tool_calls=[call("retrieve_payment_status", "D681PevKs", transaction_id="T1001")]),
                         ms.reply("Your transaction T1001 is paid.")],
    "json_schema.py": lambda: [ms.reply('{"name": "To Kill a Mockingbird", "authors": ["Harper Lee"]}')],
    "parse.py": lambda: [ms.reply(BOOK)],
}


def run_example(path: Path, source: str, server) -> str:
    """The program's output, run in this process with the server's answers queued."""
    server.reset()
    server.enqueue(*SCRIPTS.get(path.name, list)())
    program = path.with_name(f"_{path.stem}_run.py")
    program.write_text(source)
    out, failures = io.StringIO(), []

    def main() -> None:  # in a thread of its own, as a program has: no event loop of the suite's running
        try:
            runpy.run_path(str(program), run_name="__main__")
        except BaseException as exc:
            failures.append(exc)

    try:
        with contextlib.redirect_stdout(out):
            runner = threading.Thread(target=main, name=f"example {path.stem}")
            runner.start()
            runner.join(60)
    finally:
        program.unlink()
    if failures:
        raise failures[0]
    return out.getvalue()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.stem)
def test_a_program_for_mistrals_client_prints_the_same_with_only_the_import_changed(path, server):
    source = path.read_text()
    assert source.count(OFFICIAL) == 1
    official = run_example(path, source, server)
    official_bodies = chat_bodies(server)
    ours = run_example(path, source.replace(OFFICIAL, OURS), server)
    assert ours == official and ours.strip()
    for body in official_bodies + chat_bodies(server):
        assert_valid_chat_request(body)
    assert chat_bodies(server) == official_bodies  # the very bodies the official client sends
    if path.name == "call_options.py":  # call options shape the request, never its body
        (request,) = [request for request in server.requests if request.method == "POST"]
        assert request.headers["x-request-origin"] == "notebook"
