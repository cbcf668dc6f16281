"""The chat panel end to end: notebooks/panel.ipynb in JupyterLab, driven by headless Chromium.

Type, send, watch the reply stream in, stop a slow reply, run a cell while a
reply streams, and find the panel's turns in the kernel's history. Screenshots
go to test-artifacts/.
"""

from __future__ import annotations

import time

import pytest

from browser import CHUNK_DELAY, screenshot

ipywidgets = pytest.importorskip("ipywidgets")
if int(ipywidgets.__version__.split(".")[0]) < 8:
    pytest.skip(f"JupyterLab 4 renders ipywidgets 8 widgets only; this run has {ipywidgets.__version__}",
                allow_module_level=True)

QUESTION = "Which of these cheeses is the oldest, and how long is it aged before it is sold?"
LONG = " ".join(f"word{i}" for i in range(80))  # 80 streamed words: long enough to stop midway
_HAS_TEXT = """([selector, text]) => document.querySelector(selector)?.innerText.includes(text)"""
_GROWTH = """async () => {
    const status = document.querySelector('.mistral-status');
    const transcript = document.querySelector('.mistral-transcript');
    const lengths = [];
    for (let i = 0; i < 1000 && !status.innerText.includes('out tokens'); i++) {
        const length = transcript.innerText.length;
        if (lengths[lengths.length - 1] !== length) lengths.push(length);
        await new Promise(resolve => setTimeout(resolve, 10));
    }
    return lengths;
}"""
_NEWEST_IN_VIEW = """() => {
    const box = document.querySelector('.mistral-transcript').getBoundingClientRect();
    const newest = document.querySelector('.mistral-transcript > :first-child').getBoundingClientRect();
    return newest.bottom <= box.bottom + 1 && newest.top >= box.top - 1;
}"""


def wait_for_text(page, selector: str, text: str, timeout: float = 20_000) -> None:
    page.wait_for_function(_HAS_TEXT, arg=[selector, text], timeout=timeout)


def send(page, text: str) -> None:
    page.fill(".mistral-input textarea", text)
    page.click("button.mistral-send")


def cell_index(page, source_start: str) -> int:
    return int(page.evaluate("""(start) => window.jupyterapp.shell.currentWidget.content.widgets
        .findIndex(cell => cell.model.sharedModel.getSource().startsWith(start))""", source_start))


def test_a_conversation_in_the_panel_and_in_cells(chromium, jupyterlab):
    page = jupyterlab.open(chromium, "panel.ipynb")
    try:
        jupyterlab.run_all(page)
        page.wait_for_selector(".mistral-panel")
        wait_for_text(page, ".mistral-transcript", "Echo: Name three French cheeses")
        history = cell_index(page, "%mistral_history")

        send(page, QUESTION)
        lengths = page.evaluate(_GROWTH)
        # The transcript before, at least one part of the reply, then all of it: it streamed in (a loaded
        # machine may draw fewer steps, as the panel skips updates to keep up).
        assert len(lengths) >= 3, lengths
        wait_for_text(page, ".mistral-transcript", f"Echo: {QUESTION}")
        assert page.locator(".mistral-input textarea").input_value() == ""
        page.locator(".mistral-panel").scroll_into_view_if_needed()
        print("reply", screenshot(page, "panel-reply"))

        send(page, LONG)
        wait_for_text(page, ".mistral-status", "streaming")
        page.wait_for_timeout(300)
        clicked = time.monotonic()
        page.click("button.mistral-stop")
        wait_for_text(page, ".mistral-status", "Stopped", timeout=5_000)
        latency = time.monotonic() - clicked
        shown = page.inner_text(".mistral-transcript")
        partial = shown[shown.index("Echo: word0"):shown.index("⚠ stopped: nothing was added to 'default'")]
        assert "word3" in partial and "word79" not in partial and latency < 1.0, (partial, latency)
        page.wait_for_function("(text) => document.querySelector('.mistral-input textarea').value === text",
                               arg=LONG)  # the message not recorded is back in the input
        print(f"stop latency in the browser: {latency:.3f} s", screenshot(page, "panel-stopped"))

        page.click("button.mistral-send")  # the stopped message came back to the input
        wait_for_text(page, ".mistral-status", "streaming")
        started = time.monotonic()
        jupyterlab.run_cell(page, history)
        assert time.monotonic() - started < 80 * CHUNK_DELAY / 2
        assert "streaming" in page.inner_text(".mistral-status")  # the cell ran while the reply streamed
        assert "(2 turns)" in jupyterlab.output(page, history)
        print("cell", screenshot(page, "panel-while-a-cell-runs"))

        page.wait_for_selector("button.mistral-send:not([disabled])")  # recorded: ready again
        jupyterlab.run_cell(page, history)
        assert "(3 turns)" in jupyterlab.output(page, history) and "word79" in jupyterlab.output(page, history)
        assert page.evaluate(_NEWEST_IN_VIEW)
        page.locator(".mistral-panel").scroll_into_view_if_needed()
        print("shared", screenshot(page, "panel-shared-with-cells"))
    finally:
        page.close()
