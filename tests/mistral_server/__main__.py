"""Standalone server for other processes (notebook runs, benchmarks, JupyterLab tests).

    cd tests && python -m mistral_server --port 0 [--key KEY] [--chunk-delay SECONDS] [--batch-polls N]

Prints "READY http://127.0.0.1:PORT" once it listens, so the parent knows where, and
serves default replies (the echo) until killed.
"""
from __future__ import annotations

import argparse
import sys
import threading

from .server import MistralServer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mistral_server",
                                     description="Loopback Mistral API emulator (default replies only).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--key", default="test-key", help="the accepted API key")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds to sleep between SSE chunks")
    parser.add_argument("--batch-polls", type=int, default=3, help="polls a batch job spends RUNNING")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until killed; the READY line tells the parent process where."""
    args = _parse_args(argv)
    server = MistralServer(args.key, chunk_delay=args.chunk_delay, batch_polls=args.batch_polls).start(args.port)
    print(f"READY {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
