"""A smoke test of the built wheel, installed (not editable) in a fresh virtualenv: CI runs it from outside the
checkout, so the package imported is the installed one.

    python .ci/smoke.py TESTS_DIR

Loads the extension in a real IPython shell, shows a --dry-run body, and gets a reply from the loopback server
(started from TESTS_DIR, which needs only the standard library).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import mistral_magic


def main(tests: Path) -> None:
    assert "site-packages" in mistral_magic.__file__, f"not the installed package: {mistral_magic.__file__}"
    server = subprocess.Popen([sys.executable, "-m", "mistral_server", "--port", "0"], cwd=tests,
                              stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split() if server.stdout else []
        assert ready[:1] == ["READY"], ready
        os.environ.update(MISTRAL_API_KEY="test-key", MISTRAL_BASE_URL=ready[1])
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


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
