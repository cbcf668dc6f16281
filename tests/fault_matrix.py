"""The fault matrix's rows: each fault the loopback server (or the network) can produce.

test_faults.py runs each row in a shell; test_secrets.py runs them all in one kernel
and scans everything for the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import mistral_server as ms

# "Unprocessable Content" from Python 3.13 on (RFC 9110), "Unprocessable Entity" before.
UNPROCESSABLE = f"422 {HTTPStatus(422).phrase}"
HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
CHUNK = ('{"id":"a","model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"%s"},'
         '"finish_reason":%s}]%s}')


def sse(*events: str) -> list[bytes]:
    return [f"data: {event}\n\n".encode() for event in events]


@dataclass
class Fault:
    name: str
    scripts: tuple[Any, ...] = ()
    error: str | None = None
    kept: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str | None] = field(default_factory=dict)


FAULTS = [
    Fault("no API key", environ={"MISTRAL_API_KEY": None},
          error="ConfigError: MISTRAL_API_KEY is not set. Export it before starting Jupyter"),
    Fault("401 message body", (ms.unauthorized("message"),),
          "APIStatusError: Mistral API answered 401 Unauthorized: Unauthorized. Check the key in MISTRAL_API_KEY."),
    Fault("401 detail body", (ms.unauthorized("detail"),),
          "APIStatusError: Mistral API answered 401 Unauthorized: Unauthorized. Check the key"),
    Fault("401 empty body", (ms.unauthorized("empty"),),
          "APIStatusError: Mistral API answered 401 Unauthorized. Check the key in MISTRAL_API_KEY."),
    Fault("400 invalid model", (ms.invalid_model("mistral-huge"),),
          "APIStatusError: Mistral API answered 400 Bad Request: Invalid model: mistral-huge. List the models"),
    Fault("400 message order", (ms.message_order("Unexpected role 'user' after role 'tool'"),),
          "APIStatusError: Mistral API answered 400 Bad Request: Unexpected role 'user' after role 'tool'."),
    Fault("403", (ms.error(403, {"object": "error", "message": "Model not available", "type": "forbidden"}),),
          "APIStatusError: Mistral API answered 403 Forbidden: Model not available. The key's workspace"),
    Fault("404", (ms.error(404, {"detail": "Not Found"}),),
          "APIStatusError: Mistral API answered 404 Not Found: Not Found. Check the base URL"),
    Fault("422 spec shape", (ms.validation_error(["body", "temperature"], "Input should be <= 1.5", shape=1),),
          f"APIStatusError: Mistral API answered {UNPROCESSABLE}: temperature: Input should be <= 1.5"),
    Fault("422 wrapped shape", (ms.validation_error(["body", "top_p"], "Input should be > 0", shape=2),),
          f"APIStatusError: Mistral API answered {UNPROCESSABLE}: top_p: Input should be > 0"),
    Fault("422 capitalised shape", (ms.validation_error(["body", "stop"], "Input should be a list", shape=3),),
          f"APIStatusError: Mistral API answered {UNPROCESSABLE}: stop: Input should be a list"),
    Fault("429 with Retry-After", (ms.rate_limited(retry_after="30"),),
          "APIStatusError: Mistral API answered 429 Too Many Requests: Rate limit exceeded. "
          "Rate limited: re-run the cell in 30 s."),
    Fault("429 without Retry-After", (ms.rate_limited(shape="message"),),
          "APIStatusError: Mistral API answered 429 Too Many Requests: Requests rate limit exceeded. "
          "Rate limited: re-run the cell in a moment."),
    *[Fault(f"{status}", (ms.server_error(status),),
            f"APIStatusError: Mistral API answered {status} ") for status in (500, 502, 503, 504)],
    Fault("non-JSON error body from a proxy", (ms.error(502, HTML_PAGE),),
          "APIStatusError: Mistral API answered 502 Bad Gateway: 502 Bad Gateway. The service had a problem"),
    Fault("connection refused", config={"base_url": "refused"},
          error="APIConnectionError: could not connect to http://127.0.0.1:"),
    Fault("DNS failure", config={"base_url": "http://api.mistral-magic.invalid"},
          error="APIConnectionError: could not connect to http://api.mistral-magic.invalid"),
    Fault("connect timeout", config={"base_url": "unanswered", "connect_timeout": 0.3},
          error="APITimeoutError: could not connect to http://127.0.0.1:"),
    Fault("stall before headers", (ms.stall(10),), config={"read_timeout": 0.3},
          error="APITimeoutError: no data from http://127.0.0.1:"),
    Fault("stall mid-stream", (ms.stall(10, after_chunks=2, text="partial reply here"),),
          config={"read_timeout": 0.3}, error="APITimeoutError: no data from", kept="partial reply"),
    Fault("connection dropped mid-stream", (ms.drop(after_chunks=3, text="partial reply that is cut"),),
          "APIConnectionError: the connection to", kept="partial reply that"),
    Fault("malformed JSON chunk", (ms.malformed(after_chunks=2),),
          "StreamError: the stream sent an event that is not JSON", kept="partial reply"),
    Fault("finish_reason error", (ms.reply("Half an ans", finish_reason="error"),),
          "StreamError: the model stopped with an error partway through the reply.", kept="Half an ans"),
    Fault("finish_reason length", (ms.reply("A reply cut", finish_reason="length"),),
          kept="cut short by the token limit: raise --max-tokens"),
    Fault("content as a list of chunks", (ms.reply("The answer.", content_list=True),), kept="The answer."),
    Fault("unknown keys in chunks", (ms.raw(200, {"Content-Type": "text/event-stream"}, sse(
        CHUNK % ("Hi", "null", ',"p":"xyz","logprobs":null,"brand_new":{"a":1}'),
        CHUNK % (" there", '"stop"', ',"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}'),
        "[DONE]")),), kept="Hi there"),
    Fault("CRLF framing and comment lines", (ms.reply("Framed well", crlf=True, comments=True),),
          kept="Framed well"),
    Fault("U+2028 inside JSON strings", (ms.raw(200, {"Content-Type": "text/event-stream"}, sse(
        CHUNK % ("line\u2028sep", '"stop"', ""), "[DONE]")),), kept="line\u2028sep"),
]
