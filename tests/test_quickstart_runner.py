"""``python notebooks/run.py notebooks/quickstart.ipynb``, the README's first command, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quickstart_runner_says_what_answers_and_shows_only_the_notebook(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MISTRAL_")}  # no key
    done = subprocess.run([sys.executable, "notebooks/run.py", "notebooks/quickstart.ipynb"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("MISTRAL_API_KEY is not set")  # the embedded model, or the loopback server
    assert ">>> %load_ext mistral_magic" in done.stdout
    shown = done.stdout + done.stderr
    assert "without encryption" not in shown and "WARNING" not in shown  # the kernel's own chatter
