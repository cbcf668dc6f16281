"""The package's public names: exactly these, and each one imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mistral_magic

PUBLIC = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ChatPanel",
    "ConfigError",
    "Conversation",
    "ConversationStore",
    "Mistral",
    "MistralClient",
    "MistralError",
    "ReplyInterrupted",
    "ReplyValidationError",
    "StreamError",
    "ToolLoopError",
    "Turn",
    "__version__",
    "load_ipython_extension",
    "over",
    "render_html",
    "unload_ipython_extension",
]


def test_the_public_names_are_pinned():
    assert mistral_magic.__all__ == PUBLIC


def test_every_public_name_imports_from_the_package():
    for name in mistral_magic.__all__:
        namespace: dict = {}
        exec(f"from mistral_magic import {name}", namespace)
        assert namespace[name] is getattr(mistral_magic, name)
    starred: dict = {}
    exec("from mistral_magic import *", starred)
    assert sorted(set(starred) - {"__builtins__"}) == sorted(PUBLIC)


def test_loading_the_extension_imports_no_heavy_dependency() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.core.history import HistoryAccessor\n"
        "HistoryAccessor.enabled = False\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'mistral_magic')\n"
        "print(sorted(m for m in ('httpx', 'markdown_it', 'ipywidgets', 'linkify_it') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_pythons_declared_are_the_pythons_ci_runs():
    """requires-python and the classifiers say what CI tests: the wheel on each, the floor and newest suites."""
    root = Path(__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text()
    declared = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    run = re.search(r"^PYTHONS=\(([^)]*)\)", (root / ".ci" / "run").read_text(), re.M)
    assert run is not None and run[1].split() == declared
    assert f'requires-python = ">={declared[0]}"' in pyproject


def test_the_changelog_names_this_version():
    changelog = (Path(__file__).resolve().parent.parent / "CHANGELOG.md").read_text()
    assert f"## {mistral_magic.__version__} " in changelog
