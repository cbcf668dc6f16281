"""Real browsers for tests: headless Chromium from Debian's packages, driven by Playwright.

Tests that need a browser take the ``chromium`` fixture; it skips with a reason
where Chromium or Playwright is missing (CI installs both, see .ci/run). Tests
that need JupyterLab take the ``jupyterlab`` fixture as well (see ``JupyterLab``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Without these, Chromium keeps calling out to the network, which is closed here.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium browser for the whole session."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- JupyterLab ------------------------------------------------------------------------------

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TESTS = Path(__file__).resolve().parent  # `python -m mistral_server` runs from here
API_KEY = "test-key"
CHUNK_DELAY = 0.03  # seconds between streamed words: slow enough to watch, and to press Stop
# Offline and quiet: no news feed, no update check, no extension manager calling PyPI.
LAB_CONFIG = {"LabApp": {
    "news_url": None, "extension_manager": "readonly", "expose_app_in_browser": True,
    "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"}}
# The news prompt would cover part of every screenshot.
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
_NOTEBOOK = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"() => {_NOTEBOOK} && {_NOTEBOOK}.sessionContext.session?.kernel?.status === 'idle'"


@dataclass
class JupyterLab:
    """A JupyterLab the tests started: its address, token and root folder, and ways to drive it.

    ``root`` is a fresh copy of notebooks/; its kernels run this interpreter and talk
    to a loopback Mistral server (``mistral_url``) that streams a word every
    ``CHUNK_DELAY`` seconds. ``window.jupyterapp`` is exposed to pages, so a test
    can run JupyterLab commands instead of hunting for menus.
    """

    url: str
    token: str
    root: Path
    mistral_url: str

    def open(self, browser: Any, notebook: str) -> Any:
        """Open ``notebook`` (a path under ``root``) in a new page; return it once its kernel is idle."""
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        # reset: open only this notebook, not the tabs an earlier test left in the workspace
        page.goto(f"{self.url}lab/tree/{notebook}?token={self.token}&reset")
        page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
        return page

    def run_all(self, page: Any) -> None:
        """Run every cell of the page's notebook; return when the last one has finished."""
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(_KERNEL_IDLE)

    def run_cell(self, page: Any, index: int) -> None:
        """Run one cell (numbered from 0, Markdown cells included); return when it has finished."""
        page.evaluate("""async (index) => {
            window.jupyterapp.shell.currentWidget.content.activeCellIndex = index;
            await window.jupyterapp.commands.execute('notebook:run-cell');
        }""", index)

    def output(self, page: Any, index: int) -> str:
        """The text a reader sees under cell ``index``."""
        return str(page.evaluate(
            "(index) => window.jupyterapp.shell.currentWidget.content.widgets[index]"
            ".node.querySelector('.jp-OutputArea')?.innerText ?? ''", index))


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A JupyterLab server on 127.0.0.1 for the whole session; skips where JupyterLab is missing."""
    pytest.importorskip("jupyterlab")
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "root"
    shutil.copytree(NOTEBOOKS, root)
    with _process([sys.executable, "-m", "mistral_server", "--port", "0", "--key", API_KEY,
                   "--chunk-delay", str(CHUNK_DELAY)], home / "mistral.log", cwd=TESTS) as mistral:
        mistral_url = _ready_line(home / "mistral.log", mistral)
        token = secrets.token_hex(16)
        with _process(_lab_command(root, token), home / "lab.log", env=_lab_env(home, mistral_url)) as lab:
            url = _wait_for_lab(home / "runtime", token, lab, home / "lab.log")
            yield JupyterLab(url, token, root, mistral_url)


def _lab_env(home: Path, mistral_url: str) -> dict[str, str]:
    """Config, data, settings and IPython folders of its own; kernels run this interpreter."""
    for name in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
        (home / name).mkdir()
    (home / "config" / "jupyter_lab_config.json").write_text(json.dumps(LAB_CONFIG))
    (home / "config" / "labconfig").mkdir()
    (home / "config" / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    # Render every cell, not just those in view, so tests can look at any output.
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "MISTRAL_API_KEY": API_KEY, "MISTRAL_BASE_URL": mistral_url,
            "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}


def _lab_command(root: Path, token: str) -> list[str]:
    # A port chosen here: Jupyter Server 2.18 (the newest on Python 3.9) takes port 0 but never
    # writes its runtime file.
    return [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={free_port()}", "--ServerApp.allow_root=True", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}"]


@contextlib.contextmanager
def _process(command: list[str], log: Path, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> Iterator[Any]:
    """Run ``command`` with its output in ``log``; stop it afterwards (JupyterLab stops its kernels)."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready_line(log: Path, process: Any, timeout: float = 15) -> str:
    """The URL the loopback server prints once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith("READY "):
                return line.split()[1]
        time.sleep(0.05)
    raise RuntimeError(f"the loopback server did not start: {log.read_text()[-2000:]}")


def _wait_for_lab(runtime: Path, token: str, process: Any, log: Path, timeout: float = 60) -> str:
    """The server's URL, once its runtime file is written and its API answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for info in runtime.glob("jpserver-*.json"):
            url = json.loads(info.read_text())["url"]
            try:
                with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2):
                    return str(url)
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not start: {log.read_text()[-3000:]}")
