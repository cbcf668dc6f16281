"""The API key never leaks: one kernel, every feature and every fault, everything scanned."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import mistral_server as ms
from fault_matrix import FAULTS
from helpers import free_port, unanswered_port
from mistral_server import MistralServer

KEY = "sk-leak-canary-3b8e91d0c4a7f2"

FEATURES = [
    "import logging; logging.basicConfig(level=logging.DEBUG)  # httpx and httpcore log everything",
    "%load_ext mistral_magic",
    "%%mistral --role system\nBe brief.",
    ('%%mistral -m mistral-large-latest -t 0 --top-p 0.5 --max-tokens 40 --random-seed 1 --stop "X Y" '
     "--presence-penalty 0.1 --frequency-penalty 0.1 --safe-prompt -o out\nHello"),
    "%%mistral --prefix 'Once' --no-stream\nStory",
    "%%mistral --json -o data --once\nJSON please",
    "%%mistral --dry-run --vars -o body\nAs {__name__}",
    "%%mistral --compare -m mistral-small-latest,mistral-nope -t 0,1 -o runs\nSide by side",
    "def add(a: int, b: int) -> int:\n    return a + b\n\nschema = {'type': 'object'}",
    "%%mistral --tools add --schema schema\nAdd 1 and 2",
    "%%mistral -c other --new\nSide chat",
    "%mistral_history",
    "%mistral_undo",
    "%mistral_models",
    "%config MistralMagics",
    ("from mistral_magic.session import loaded\nmagics = loaded()\n"
     "magics, magics.client, vars(magics.client), vars(magics.client.remote)"),
    ("from mistral_magic import Mistral\nclient = Mistral()\nprint(client, vars(client.chat))\n"
     "print(client.chat.complete(model='mistral-small-latest', messages=[{'role': 'user', 'content': 'hi'}]))"),
    ("for event in client.chat.stream(model='mistral-small-latest', messages=[{'role': 'user', 'content': 'hi'}]):\n"
     "    print(event)"),
    "%xmode Verbose",
    # Keys pasted with whitespace: trimmed when around the key, refused unseen when inside it.
    "import os; real_key = os.environ['MISTRAL_API_KEY']",
    "os.environ['MISTRAL_API_KEY'] = real_key + '\\n'",
    "%%mistral\nA key read from a file ends in a newline",
    "os.environ['MISTRAL_API_KEY'] = '  ' + real_key + ' \\r\\n'",
    "%%mistral --no-stream\nA key copied with spaces around it",
    "os.environ['MISTRAL_API_KEY'] = real_key[:10] + '\\n' + real_key[10:]",
    "%%mistral\nA newline inside the key",
    "os.environ['MISTRAL_API_KEY'] = real_key[:10] + '\u00e9' + real_key[10:]",
    "%%mistral\nA non-ASCII letter inside the key",
    ("Mistral(api_key=real_key[:10] + ' ' + real_key[10:]).chat.complete(model='mistral-small-latest', "
     "messages=[{'role': 'user', 'content': 'hi'}])"),
    "os.environ['MISTRAL_API_KEY'] = real_key",
    "%config MistralMagics.base_url = 'api.mistral.ai'",
    "%config MistralMagics.model = ''",
    "%%mistral -o class\nhi",
    "%%mistral --json -o data\nNot JSON",
]


def code(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["raises-exception"]})


def test_the_key_appears_nowhere(monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    with MistralServer(api_key=KEY) as server, unanswered_port() as unanswered:
        monkeypatch.setenv("MISTRAL_BASE_URL", server.url)
        ports = {"refused": f"http://127.0.0.1:{free_port()}", "unanswered": f"http://127.0.0.1:{unanswered}"}
        notebook = nbformat.v4.new_notebook(cells=[code(source) for source in FEATURES])
        client = NotebookClient(notebook, timeout=60, allow_errors=True,
                                resources={"metadata": {"path": str(tmp_path)}})
        with client.setup_kernel():
            for cell in notebook.cells:
                client.execute_cell(cell, notebook.cells.index(cell))
            for fault in FAULTS:
                for source in fault_cells(fault, ports, server.url):
                    notebook.cells.append(code(source))
                    server.enqueue(*fault.scripts) if source.startswith("%%mistral") else None
                    client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
            server.enqueue(ms.stall(10, after_chunks=2))
            notebook.cells.append(code("%%mistral\ninterrupt me"))
            # As the interrupt button does on Linux: SIGINT to the kernel process.
            timer = threading.Timer(1.0, os.kill, (client.km.provisioner.pid, signal.SIGINT))
            timer.start()
            client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
            timer.join()
            for source in ("%tb", "%mistral_history", "%config MistralMagics", "out, data"):
                notebook.cells.append(code(source))
                client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
    saved = Path(os.environ.get("SCAN_OUT", tmp_path)) / "scanned.ipynb"
    nbformat.write(notebook, saved)
    logs = capfd.readouterr()
    produced = saved.read_text() + logs.out + logs.err
    assert "ReplyInterrupted" in produced and "APIStatusError: Mistral API answered 401" in produced
    assert "DEBUG:httpcore" in produced  # the debug logs were on, and are scanned too
    assert "ConfigError: MISTRAL_API_KEY contains a newline at position 11 of 30" in produced
    assert "ConfigError: MISTRAL_API_KEY contains a non-ASCII character (U+00E9" in produced
    assert "ConfigError: The API key given to the client contains a space at position 11" in produced
    assert "MistralMagics.base_url 'api.mistral.ai' is not an http(s) URL" in produced
    assert produced.count("Echo: A key") >= 2  # keys with whitespace around them work
    assert KEY not in produced and KEY[:10] not in produced and KEY[10:] not in produced


def fault_cells(fault, ports: dict[str, str], url: str) -> list[str]:
    """The cells that provoke one fault in the kernel, then put the settings back."""
    settings = {name: ports.get(value, value) for name, value in fault.config.items()}
    cells = [f"%config MistralMagics.{name} = {value!r}" for name, value in settings.items()]
    if "MISTRAL_API_KEY" in fault.environ:
        cells.append("import os; saved_key = os.environ.pop('MISTRAL_API_KEY')")
    cells += ["%config MistralMagics.max_retries = 0", "%%mistral\nhi"]
    if "MISTRAL_API_KEY" in fault.environ:
        cells.append("os.environ['MISTRAL_API_KEY'] = saved_key")
    cells.append(f"%config MistralMagics.base_url = {url!r}\n%config MistralMagics.read_timeout = 120.0\n"
                 "%config MistralMagics.connect_timeout = 10.0")
    return cells
