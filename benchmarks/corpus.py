"""Deterministic, realistic Markdown replies and their token-sized chunks.

A model's reply mixes paragraphs, nested lists, tables, fenced code, quotes,
inline code and links; the renderer's cost depends on that mix, so the
benchmarks stream text shaped like it rather than lorem ipsum.
"""

from __future__ import annotations

import random
import re

__all__ = ["markdown_reply", "tokens"]

_WORDS = [
    "the", "model", "returns", "a", "streamed", "reply", "with", "tokens", "that", "arrive", "one",
    "by", "one", "and", "each", "update", "renders", "only", "what", "changed", "since", "cheese",
    "from", "Jura", "is", "aged", "for", "months", "before", "it", "reaches", "market", "while", "the",
    "kernel", "keeps", "every", "turn", "of", "the", "conversation", "in", "memory", "so", "that", "a",
    "cell", "can", "be", "run", "again", "without", "losing", "context", "latency", "throughput",
    "display", "frontend", "notebook", "widget", "markdown", "parser", "block", "paragraph", "table",
    "fence", "list", "item", "heading", "quote", "link"
]
_CODE = (
    "def stream(client, prompt):",
    "    for event in client.chat.stream(model=MODEL, messages=[prompt]):",
    "        delta = event.data.choices[0].delta.content or \"\"",
    "        print(delta, end=\"\", flush=True)",
    "    return {\"ok\": True, \"count\": len(prompt) * 2}",
    "class Cache(dict):",
    "    def __missing__(self, key):",
    "        value = self[key] = compute(key) if key < 10 else None",
    "        return value",
)
# A model's tokens: a word with its leading space, a number, punctuation, newlines.
_TOKEN = re.compile(r" ?[A-Za-z]{1,7}| ?\d{1,3}| ?[^\sA-Za-z\d]{1,2}|\n+| +")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 18))
    for i in range(len(words)):
        roll = rng.random()
        if roll < 0.05:
            words[i] = f"**{words[i]}**"
        elif roll < 0.08:
            words[i] = f"*{words[i]}*"
        elif roll < 0.12:
            words[i] = f"`{words[i]}()`"
        elif roll < 0.14:
            words[i] = f"[{words[i]}](https://example.com/{words[i]}?q={i})"
        elif roll < 0.15:
            words[i] = f"https://docs.example.org/{words[i]}"
    return " ".join(words).capitalize() + rng.choice(".....!?:")


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _list(rng: random.Random) -> str:
    ordered = rng.random() < 0.4
    lines = []
    for n in range(1, rng.randint(3, 7)):
        lines.append(f"{n}. " if ordered else "- ")
        lines[-1] += _sentence(rng)
        if rng.random() < 0.3:
            lines += [f"   - {_sentence(rng)}" for _ in range(rng.randint(1, 3))]
    return "\n".join(lines)


def _table(rng: random.Random) -> str:
    columns = rng.randint(2, 5)
    head = rng.sample(_WORDS, columns)
    rows = [f"| {' | '.join(head)} |", "|" + "---|" * columns]
    for _ in range(rng.randint(2, 8)):
        cells = [rng.choice((rng.choice(_WORDS), f"`{rng.randint(0, 999)}`", f"{rng.random():.2f}"))
                 for _ in range(columns)]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def _code(rng: random.Random) -> str:
    start = rng.randrange(len(_CODE))
    body = [_CODE[(start + i) % len(_CODE)] for i in range(rng.randint(3, 14))]
    return "\n".join([f"```{rng.choice(('python', 'python', 'bash', ''))}", *body, "```"])


def _block(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return f"{'#' * rng.randint(2, 3)} {_sentence(rng).rstrip('.!?:')}"
    if roll < 0.45:
        return _paragraph(rng)
    if roll < 0.65:
        return _list(rng)
    if roll < 0.75:
        return _table(rng)
    if roll < 0.92:
        return _code(rng)
    return "> " + _sentence(rng)


def markdown_reply(n_tokens: int, seed: int = 1) -> str:
    """A Markdown reply of about ``n_tokens`` tokens; the same for the same arguments."""
    rng = random.Random(seed)
    blocks = [f"# {_sentence(rng).rstrip('.!?:')}"]
    count = len(tokens(blocks[0]))
    while count < n_tokens:
        blocks.append(_block(rng))
        count += len(tokens(blocks[-1])) + 1
    return "\n\n".join(blocks) + "\n"


def tokens(text: str) -> list[str]:
    """Split text into token-sized chunks that join back to it exactly."""
    pieces = _TOKEN.findall(text)
    assert "".join(pieces) == text
    return pieces
