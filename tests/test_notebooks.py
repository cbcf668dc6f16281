"""Notebooks and cells executed in a real kernel against the loopback server."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbclient.util import run_sync

import mistral_server as ms
from helpers import call, chat_bodies
from mistral_server import MistralServer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SECRET = "sk-notebook-secret-7f3a9c"


@pytest.fixture
def kernel_env(monkeypatch):
    """A server with a distinctive key, and an environment a kernel inherits."""
    # Kernel specs start "python" from PATH: make it this interpreter.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    with MistralServer(api_key=SECRET) as server:
        monkeypatch.setenv("MISTRAL_API_KEY", SECRET)
        monkeypatch.setenv("MISTRAL_BASE_URL", server.url)
        yield server


def test_quickstart_runs_end_to_end_and_keeps_no_key(kernel_env, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    replies = [output.data["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    assert any("<p>Echo: What is the best French cheese? Answer with a short list.</p>" in html
               for html in replies)
    second = [r.body for r in kernel_env.requests if r.path == "/v1/chat/completions"][1]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert SECRET not in nbformat.writes(notebook)


def execute(client, code: str, cell_id: str) -> list[dict]:
    """Send an execute_request as JupyterLab does (cell id in metadata); return iopub messages."""
    message = client.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True}, metadata={"cellId": cell_id})
    client.shell_channel.send(message)
    reply = client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    seen = []
    while True:
        item = client.get_iopub_msg(timeout=10)
        if item["parent_header"].get("msg_id") != message["header"]["msg_id"]:
            continue
        if item["msg_type"] == "status" and item["content"]["execution_state"] == "idle":
            return seen
        seen.append(item)


def test_rerunning_a_cell_in_a_kernel_replaces_its_turn(kernel_env):
    manager, client = start_new_kernel()
    try:
        execute(client, "%load_ext mistral_magic", "load")
        execute(client, "%%mistral\nFirst", "c1")
        messages = execute(client, "%%mistral\nSecond", "c2")
        kinds = [m["msg_type"] for m in messages if m["msg_type"] not in ("status", "execute_input")]
        assert kinds[0] == "display_data" and set(kinds[1:]) == {"update_display_data"}
        execute(client, "%%mistral\nFirst, again", "c1")
        assert [m["content"] for m in kernel_env.last_body["messages"]] == ["First, again"]
        shown = execute(client, "%mistral_history", "h")
        text = next(m for m in shown if m["msg_type"] == "display_data")["content"]["data"]["text/markdown"]
        assert "(2 turns)" in text and text.index("First, again") < text.index("Second")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_panel_notebook_runs_headless(kernel_env, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / "panel.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs)
    history = next(cell for cell in notebook.cells if cell.source == "%mistral_history")
    assert "(1 turn)" in history.outputs[0].data["text/markdown"]
    assert SECRET not in nbformat.writes(notebook)


NOTEBOOK_SCRIPTS = {  # what a real model would do in the cells where the echo cannot show it
    "--schema Species -o gentoo": [ms.reply('{"name": "Gentoo", "island": "Biscoe", "body_mass_g": 5076}')],
    "--tools penguin_count": [
        ms.reply(tool_calls=[call("penguin_count", "count0001", species="Adelie"),
                             call("penguin_count", "count0002", species="Gentoo")]),
        ms.reply(tool_calls=[call("penguin_count", "count0003", species="Adelie", island="Dream"),
                             call("penguin_count", "count0004", species="Adelie", island="Mars")]),
        ms.reply("152 Adelie and 124 Gentoo were measured; 56 Adelie on Dream, and Mars is not in the study.")],
}


def execute_scripted(name: str, scripts: dict, server, path) -> nbformat.NotebookNode:
    """Run a notebook cell by cell; before a cell holding a marker, queue the server's answers to it.

    Before a cell tagged ``after-restart`` the kernel is restarted, as a reader would.
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(path)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            for marker, answers in scripts.items():
                if marker in cell.source:
                    server.enqueue(*answers)
            if "after-restart" in cell.metadata.get("tags", ()):
                run_sync(client.km.restart_kernel)(now=True)
                run_sync(client.kc.wait_for_ready)(timeout=60)
            client.execute_cell(cell, index)
    return notebook


def test_prompt_design_notebook_runs_in_a_kernel(kernel_env, tmp_path):
    notebook = execute_scripted("prompt-design.ipynb", NOTEBOOK_SCRIPTS, kernel_env, tmp_path)
    shown = {cell.source.split("\n")[0] + ("" if "\n" not in cell.source else " …"): _shown(cell)
             for cell in notebook.cells if cell.cell_type == "code"}
    errors = [(cell.source.split("\n")[0], output.ename) for cell in notebook.cells
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == [("%%mistral --schema Species --max-tokens 3 -o cut", "ReplyValidationError")]
    assert "the reply does not match the schema Species: Invalid JSON" in shown[errors[0][0] + " …"]
    assert '"max_tokens": 200' in shown["%%mistral --dry-run -t 0.2 --max-tokens 200 …"]
    bodies = chat_bodies(kernel_env)
    assert "The Palmer penguins data set has 344 rows" in bodies[1]["messages"][-1]["content"]
    assert {(b["model"], b.get("temperature")) for b in bodies[2:6]} == {
        (model, t) for model in ("mistral-small-latest", "mistral-large-latest") for t in (0.0, 0.7)}
    assert shown["gentoo"] == "Species(name='Gentoo', island='Biscoe', body_mass_g=5076)"
    tools = shown["%%mistral --tools penguin_count -o answer …"]
    assert ('🔧 `penguin_count(species="Adelie", island="Mars")` → '
            "⚠ `ValueError: no count for Adelie on Mars`") in tools
    assert "Mars is not in the study." in tools
    history = shown["%mistral_history"]  # the tool calls and their results, as the cell showed them
    assert "**[6] assistant**\n\n🔧 `penguin_count(" in history
    assert ('🔧 `penguin_count(species="Adelie", island="Mars")` → '
            "⚠ `ValueError: no count for Adelie on Mars`") in history
    assert SECRET not in nbformat.writes(notebook)


def _shown(cell) -> str:
    """The text a reader sees under a cell: its last display, streams and errors."""
    texts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type == "error":
            texts.append(f"{output.ename}: {output.evalue}")
        elif output.get("data"):
            texts.append(output.data.get("text/markdown") or output.data.get("text/plain", ""))
    return "\n".join(texts).strip()


CONTEXT_SCRIPTS = {  # the code a model would write, where the echo has none
    "%%mistral --code -o snippet": [ms.reply(
        "Sum, then sort:\n\n```python\norders.groupby('region')['amount'].sum().sort_values(ascending=False)\n```")],
}


def test_notebook_context_notebook_runs_in_a_kernel(kernel_env, tmp_path):
    notebook = execute_scripted("notebook-context.ipynb", CONTEXT_SCRIPTS, kernel_env, tmp_path)
    shown = {cell.source.split("\n")[0]: _shown(cell) for cell in notebook.cells if cell.cell_type == "code"}
    errors = [output.ename for cell in notebook.cells for output in cell.get("outputs", [])
              if output.output_type == "error"]
    assert errors == ["KeyError"]  # the cell the notebook fails on purpose
    sent = [body["messages"][-1]["content"] for body in chat_bodies(kernel_env)]
    context = next(content for content in sent if isinstance(content, str) and content.startswith("Which region"))
    for fact in ("100,000 rows × 4 columns", "| amount | float64 | 400 |", "min ", "mean ", "last 5 rows",
                 "datetime64", "4 distinct"):
        assert fact in context
    assert len(context) < 4000 + 200
    explained = next(content for content in sent if isinstance(content, str) and "KeyError" in content)
    assert "'norht'" in explained and 'per_region["norht"]' in explained and "\x1b[" not in explained
    assert shown["snippet"] == "\"orders.groupby('region')['amount'].sum().sort_values(ascending=False)\""
    image = next(content for content in sent if isinstance(content, list))
    assert image[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "[image: image/png" in shown["%%mistral -m mistral-small-latest --image plt"]
    assert "base64" not in shown["%mistral_history"] and "[image: image/png, " in shown["%mistral_history"]
    thought = next(cell for cell in notebook.cells if cell.source.startswith("%%mistral -m magistral"))
    assert "Thought for" in thought.outputs[-1].data["text/html"]
    assert shown["answer"] == "'Echo: Is 2,147,483,647 a prime number?'"
    assert SECRET not in nbformat.writes(notebook)


DATASET_SCRIPTS = {  # the fields a model would give, where the echo has none
    "%%mistral --over sample --schema label": [
        ms.reply(f'{{"sentiment": "positive", "product": "blender {i}"}}') for i in range(20)],
}


def test_dataset_notebook_labels_a_frame_and_resumes(kernel_env, tmp_path):
    notebook = execute_scripted("dataset.ipynb", DATASET_SCRIPTS, kernel_env, tmp_path)
    shown = [_shown(cell) for cell in notebook.cells if cell.cell_type == "code"]
    assert not [output for cell in notebook.cells for output in cell.get("outputs", [])
                if output.output_type == "error"]
    assert sum("5,000 of 5,000 rows" in text for text in shown) == 2
    assert any("5,000 answered before" in text for text in shown)
    rows = [body for body in chat_bodies(kernel_env)
            if body["messages"][-1]["content"] == "5 stars: The blender is fine (order 7)"]
    assert len(rows) == 1 and rows[0]["temperature"] == 0 and rows[0]["messages"][0]["role"] == "system"
    assert any("label" in text and "Echo: 1 stars: The blender is great (order 0)" in text for text in shown)
    fields = next(text for text in shown if text.lstrip().startswith("sentiment"))  # a frame of fields
    assert len(re.findall(r"positive +blender \d+", fields)) == 5
    (job,) = kernel_env.batch_jobs.values()  # the 100,000 tickets, uploaded as a file
    assert len(job.lines) == 100_000 and len(job.input_files) == 1 and job.status == "SUCCESS"
    assert sum(f"batch job {job.id} SUCCESS · 100,000 of 100,000 rows" in text for text in shown) == 2
    restarted = next(cell for cell in notebook.cells if "after-restart" in cell.metadata.get("tags", ()))
    assert restarted.execution_count == 1  # a new kernel
    tail = next(text for text in shown if "99999" in text)  # collected in the restarted kernel
    assert "Echo: How urgent is this ticket" in tail and "Name: urgency" in tail
    assert job.id in shown[-1]  # the list of recent jobs
    assert SECRET not in nbformat.writes(notebook)
