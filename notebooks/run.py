"""Execute a notebook in a fresh kernel and print what each cell showed.

    python notebooks/run.py notebooks/quickstart.ipynb [--output executed.ipynb]

With MISTRAL_API_KEY set it talks to the Mistral API. Without one, cells are
answered by the embedded offline model (local:smollm2) when the local extra is
installed; otherwise by the test suite's loopback server, which speaks the same
protocol and echoes prompts. Either way the notebook runs on any machine, offline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from mistral_magic.local import EMBEDDED, embedded_available

TESTS = Path(__file__).resolve().parents[1] / "tests"  # `python -m mistral_server` runs from here


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """Start the loopback server; return it and its URL once it is ready."""
    process = subprocess.Popen([sys.executable, "-m", "mistral_server", "--port", "0", "--chunk-delay", "0.02"],
                               cwd=TESTS, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY "):
        process.kill()
        sys.exit(f"the loopback server did not start: {line!r}")
    return process, line.split()[1]


def shown_text(cell: nbformat.NotebookNode) -> str:
    """The plain text a reader would see under a code cell."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type == "error":
            texts.append(f"{output.ename}: {output.evalue}")
        elif "text/plain" in output.get("data", {}):
            texts.append(output.data["text/plain"])
    return "\n".join(text.rstrip() for text in texts if text.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output", type=Path, help="where to save the executed notebook")
    args = parser.parse_args()
    # Kernel specs start "python" from PATH: make it this interpreter.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    emulator = None
    if os.environ.get("MISTRAL_API_KEY"):
        print(f"Using the Mistral API at {os.environ.get('MISTRAL_BASE_URL') or 'https://api.mistral.ai'}\n")
    elif embedded_available():
        os.environ.pop("MISTRAL_BASE_URL", None)  # the embedded model stands in for the hosted API only
        print(f"MISTRAL_API_KEY is not set: using the embedded offline model {EMBEDDED}\n")
    else:
        emulator, url = start_emulator()
        os.environ.update(MISTRAL_API_KEY="test-key", MISTRAL_BASE_URL=url)
        print(f"MISTRAL_API_KEY is not set and the local extra is not installed: "
              f"using the loopback server at {url}, which echoes prompts\n")
    try:
        notebook = nbformat.read(args.notebook, as_version=4)
        # The kernel's own warnings (it talks to this runner over TCP on localhost) are not the notebook's.
        NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(args.notebook.parent)}},
                       extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()
    finally:
        if emulator:
            emulator.kill()
            emulator.wait()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            print(f">>> {cell.source}\n{shown_text(cell)}\n")
    if args.output:
        nbformat.write(notebook, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
