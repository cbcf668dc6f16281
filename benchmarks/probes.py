"""Measurements that need a fresh process: load time, memory, time to first token.

``run.py`` starts ``python probes.py NAME [ARGS]`` once per repetition and reads
the JSON it prints last, so what one measurement imports or allocates never
flatters the next.
"""

from __future__ import annotations

import gc
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

HEAVY = ("httpx", "markdown_it", "ipywidgets", "linkify_it")
KEY = "bench-key"
MODEL = "mistral-small-latest"


def rss() -> int:
    """Resident memory of this process in bytes, now (not the peak)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def bare_shell() -> Any:
    from IPython.core.history import HistoryAccessor
    from IPython.core.interactiveshell import InteractiveShell

    HistoryAccessor.enabled = False  # no SQLite file: measure the extension, not the history
    return InteractiveShell.instance()


def probe_load() -> dict[str, Any]:
    """``%load_ext mistral_magic`` on top of a bare IPython shell."""
    shell = bare_shell()
    gc.collect()
    before = rss()
    started = time.perf_counter()
    shell.run_line_magic("load_ext", "mistral_magic")
    seconds = time.perf_counter() - started
    gc.collect()
    return {"seconds": seconds, "rss": rss() - before, "heavy": [m for m in HEAVY if m in sys.modules]}


class _Recorder:
    """A display publisher that notes when each message leaves for the frontend."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []

    def publish(self, data: dict[str, Any], metadata: Any = None, source: Any = None, *,
                transient: Any = None, update: bool = False, **kwargs: Any) -> None:
        self.sent.append((time.perf_counter(), data))

    def clear_output(self, wait: bool = False) -> None:
        pass


def _sse(content: str | None, finish: str | None = None) -> bytes:
    delta = {"role": "assistant", "content": ""} if content is None else {"content": content}
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def _first_token_server(think: float, sent: list[float]) -> str:
    """A one-connection-at-a-time server that notes the instant it sends each reply's first token."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += connection.recv(65536)
                head, _, body = head.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                   b"connection: close\r\n\r\n" + _sse(None))
                time.sleep(think)  # the model thinking; the client waits in recv
                sent.append(time.perf_counter())
                connection.sendall(_sse("**Comté**"))
                time.sleep(0.02)  # sleeping releases the GIL at once, so the client is not held up
                connection.sendall(_sse(", aged", "stop") + b"data: [DONE]\n\n")

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def probe_first_token(think: str = "0.3", replies: str = "5") -> dict[str, Any]:
    """From the first content byte sent on loopback to the first display update: cold, then warm."""
    sent: list[float] = []
    os.environ["MISTRAL_API_KEY"] = KEY
    os.environ["MISTRAL_BASE_URL"] = _first_token_server(float(think), sent)
    shell = bare_shell()
    recorder = _Recorder()
    shell.display_pub = recorder
    shell.run_line_magic("load_ext", "mistral_magic")
    shell.run_line_magic("config", "MistralMagics.output = 'markdown'")
    delays = []
    for _ in range(int(replies)):
        recorder.sent.clear()
        shell.run_cell("%%mistral\nWhat is the best French cheese?").raise_error()
        shown = next(at for at, data in recorder.sent if "Comté" in data.get("text/html", ""))
        delays.append(shown - sent[-1])
    return {"cold": delays[0], "warm": sorted(delays[1:])[len(delays[1:]) // 2]}


def split_words(text: str) -> list[str]:
    """Chunks as the loopback server cuts its echo: a word and the space after it."""
    return re.findall(r"\S+\s*|\s+", text)


def probe_memory(url: str, turns: str, reply_words: str) -> dict[str, Any]:
    """RSS added by a long conversation and a long streamed reply; what stays per chunk."""
    import tracemalloc

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mistral_magic import Conversation, Turn
    from mistral_magic.cell_output import LiveMarkdown
    from mistral_magic.client import MistralClient
    from mistral_magic.exchange import Request, run_turn

    from corpus import markdown_reply

    class Handle:
        def __call__(self, data: Any, **kwargs: Any) -> Handle:
            return self

        def update(self, data: Any, raw: bool = False, **kwargs: Any) -> None:
            pass

    client = MistralClient(KEY, base_url=url)
    warm = Conversation()
    run_turn(client, warm, Request("warm up the parser and the connection", MODEL), LiveMarkdown(display=Handle()))
    # The prompt's words come back one chunk each: a long Markdown reply.
    words = split_words(markdown_reply(int(reply_words) * 2, seed=7))[: int(reply_words) - 1]
    prompt = "".join(words)
    history = [(f"Question {i}: " + markdown_reply(40, seed=i), markdown_reply(400, seed=i + 10_000))
               for i in range(int(turns))]
    gc.collect()
    before = rss()
    conversation = Conversation()
    for question, answer in history:  # copies, made now: the conversation owns its text
        conversation.commit(Turn([{"role": "user", "content": question.encode().decode()},
                                  {"role": "assistant", "content": answer.encode().decode()}]))
    gc.collect()
    held = rss() - before
    held_text = _text_bytes(conversation)
    reply = run_turn(client, conversation, Request(prompt.encode().decode(), MODEL),
                     LiveMarkdown(display=Handle()))
    answer = reply.text  # the conversation holds this string: keeping it costs nothing
    del reply
    gc.collect()
    added = rss() - before
    chunks = len(split_words(answer))  # counted after measuring: 64k little strings would count too
    del history

    # Once more under tracemalloc: what outlives the reply, beyond its turn's own text?
    tracemalloc.start()
    gc.collect()
    traced_before, _ = tracemalloc.get_traced_memory()
    reply = run_turn(client, conversation, Request(prompt.encode().decode(), MODEL),
                     LiveMarkdown(display=Handle()))
    turn_bytes = len(reply.text.encode()) + len(prompt.encode())
    del reply
    gc.collect()
    traced_after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"held": held, "held_text": held_text, "rss": added, "text": _text_bytes(conversation) - turn_bytes,
            "chunks": chunks, "kept_per_chunk": max(0, traced_after - traced_before - turn_bytes) / chunks}


def _text_bytes(conversation: Any) -> int:
    return sum(len(str(message["content"]).encode()) for message in conversation.messages())


PROBES = {"load": probe_load, "first_token": probe_first_token, "memory": probe_memory}

if __name__ == "__main__":
    print(json.dumps(PROBES[sys.argv[1]](*sys.argv[2:])))
