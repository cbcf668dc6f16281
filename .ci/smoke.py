"""A smoke test of the built wheel, installed (not editable) in a fresh virtualenv: CI runs it from outside the
checkout, so the package imported is the installed one.

    python .ci/smoke.py TESTS_DIR [--kernel NAME]

Loads the extension in a real IPython shell, shows a --dry-run body, and gets a reply from the loopback server
(started from TESTS_DIR, which needs only the standard library). With --kernel, the same cells run in a notebook
on the Jupyter kernel registered as NAME, as a JupyterLab started from another environment runs them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import mistral_magic


def main(tests: Path, kernel: str | None) -> None:
    assert "site-packages" in mistral_magic.__file__, f"not the installed package: {mistral_magic.__file__}"
    server = subprocess.Popen([sys.executable, "-m", "mistral_server", "--port", "0"], cwd=tests,
                              stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split() if server.stdout else []
        assert ready[:1] == ["READY"], ready
        os.environ.update(MISTRAL_API_KEY="test-key", MISTRAL_BASE_URL=ready[1])
        if kernel:
            in_kernel(kernel)
            return
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "mistral_magic")
        with capture_output() as dry:
            shell.run_cell_magic("mistral", "--dry-run -t 0", "Hello from the wheel")
        assert '"temperature": 0' in dry.stdout, dry.stdout
        with capture_output() as reply:
            shell.run_cell_magic("mistral", "", "Hello from the wheel")
        assert "Echo: Hello from the wheel" in reply.stdout, reply.stdout
        print(f"smoke test passed: mistral_magic {mistral_magic.__version__} from {mistral_magic.__file__}")
    finally:
        server.kill()
        server.wait()


def in_kernel(name: str) -> None:
    """The cells of the README's first screen, in a notebook on the kernel registered as ``name``."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext mistral_magic"),
                                               nbformat.v4.new_code_cell("%%mistral\nHello from the kernel")])
    NotebookClient(notebook, kernel_name=name, timeout=60).execute()
    shown = notebook.cells[1].outputs[-1]["data"]["text/markdown"]
    assert shown.startswith("Echo: Hello from the kernel"), shown
    print(f"smoke test passed: %%mistral in a notebook on the kernel {name!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("tests", type=Path)
    parser.add_argument("--kernel")
    args = parser.parse_args()
    main(args.tests.resolve(), args.kernel)
