"""Fenced code is coloured with inline styles only, in a box with its own colours, and stays inert."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from mistral_magic.highlight import highlight
from mistral_magic.render import IncrementalHTML, render_html

from xss_payloads import PAYLOADS

HOSTILE_INFO = ['python" onclick="x', "<script>", '"><script>alert(1)</script>', "javascript:alert(1)",
                "python onmouseover=alert(1)", "json' onerror='alert(1)", "&quot; onclick=&quot;x",
                "py`<img src=x onerror=alert(1)>`"]
# A declaration as the inline styles write it: `name: value`, values of colours, lengths and keywords.
STYLE_DECLARATION = re.compile(r"\s*[a-z-]+\s*:\s*[#\w. -]+\s*")


class Markup(HTMLParser):
    """The tags, attributes and text a browser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(markup: str) -> Markup:
    parser = Markup()
    parser.feed(markup)
    parser.close()
    return parser


def inert(markup: str) -> bool:
    """No script, no handler, no ``javascript:``; indeed only pre, code and span with a class or plain styles.

    A class may read ``language-javascript:…``: it names, it does not navigate.
    """
    seen = read(markup)
    return ("<script" not in markup
            and not any(name.startswith("on") for name, _ in seen.attributes)
            and not any("javascript:" in value.lower() for name, value in seen.attributes if name != "class")
            and set(seen.tags) <= {"pre", "code", "span"}
            and all(name in ("class", "style") for name, _ in seen.attributes)
            and all(_plain_style(value) for name, value in seen.attributes if name == "style"))


def _plain_style(value: str) -> bool:
    return all(STYLE_DECLARATION.fullmatch(part) for part in value.split(";") if part.strip())


def text_of(markup: str) -> str:
    return "".join(read(markup).text)


def fenced(code: str, info: str = "", fence: str = "~~~~") -> str:
    return f"{fence}{info}\n{code}\n{fence}\n"


def test_a_python_fence_has_coloured_spans_in_a_box_with_its_own_colours() -> None:
    rendered = render_html(fenced("import os\n\ndef double(n):\n    return n * 2  # twice", "python"))
    assert rendered.startswith('<pre><code class="language-python"><span style="display:block;')
    box = read(rendered).attributes[1][1]
    assert "background:#" in box and ";color:#" in box
    assert rendered.count('<span style="color:') >= 4


@pytest.mark.parametrize(("language", "code"), [
    ("python", "def f(x):\n    return 1"), ("py", "import os"), ("Python", "x = None"),
    ("sql", "SELECT name FROM cheese WHERE age > 12;"), ("bash", 'echo "$HOME" | wc -c  # count'),
    ("json", '{"name": "Comté", "months": 12, "raw": true}'), ("javascript", "const x = await fetch('/api');")])
def test_common_languages_are_highlighted(language: str, code: str) -> None:
    assert '<span style="color:' in highlight(code + "\n", language)


@pytest.mark.parametrize("info", ["", "no-such-language", "text/x-unknown"])
def test_code_in_an_unknown_or_missing_language_is_plain_in_the_same_box(info: str) -> None:
    code = 'if a < b and c > "d":\n    pass & more\n'
    python = highlight(code, "python")
    plain = highlight(code, info)
    box = python[:python.index(">") + 1]
    assert plain == f"{box}{html.escape(code, quote=False)}</span>"
    assert render_html(fenced(code.rstrip("\n"), info)).endswith(f"{plain}</code></pre>\n")


def test_an_unknown_language_loads_no_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    import pygments.lexers

    monkeypatch.setattr(pygments.lexers, "find_plugin_lexers", lambda: pytest.fail("plugins were looked up"))
    assert highlight("graph TD; A-->B\n", "a-plugin-language").endswith(">graph TD; A--&gt;B\n</span>")


@pytest.mark.parametrize("code", ["x = 1", "x = 1\n", "\n\nx = 'a' \t\n\n\n", "# only a comment", "",
                                  's = """never\nclosed', "a = {'k': [1, 2.5e3, None]} @ b ** -c\n"])
@pytest.mark.parametrize("language", ["python", "bash", "json", "javascript", "sql", "nope"])
def test_the_block_reads_as_exactly_the_code(code: str, language: str) -> None:
    assert text_of(highlight(code, language)) == code


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("info", ["python", "html", "javascript", "", "nope", *HOSTILE_INFO])
def test_hostile_code_and_languages_stay_inert_text(payload: str, info: str) -> None:
    rendered = render_html(fenced(payload, info))
    assert inert(rendered)
    code = payload.replace("\x00", "\ufffd") + "\n"  # markdown-it replaces NUL
    assert text_of(rendered) == code + "\n"  # and ends each block with a newline


# A backtick fence's info cannot hold a backtick.
@pytest.mark.parametrize(("info", "fence"), [(info, fence) for info in HOSTILE_INFO for fence in ("```", "~~~")
                                             if "`" not in info or fence == "~~~"])
def test_a_hostile_language_stays_inside_its_class_attribute(info: str, fence: str) -> None:
    rendered = render_html(fenced('</pre><script>alert(1)</script> " onmouseover="alert(1)', info, fence))
    assert inert(rendered) and '<span style="display:block;' in rendered
    assert read(rendered).attributes[0] == ("class", "language-" + html.unescape(info).split()[0])


def test_a_streamed_reply_with_a_growing_python_fence_renders_as_a_whole() -> None:
    reply = ("Here is the function:\n\n```python\nimport math\n\n\ndef area(r):\n    \"\"\"A circle's area.\"\"\"\n"
             "    return math.pi * r ** 2  # r in metres\n\n\nprint(area(2))\n```\n\nAnd in a list:\n\n"
             "1. first\n\n   ```bash\n   echo \"$PATH\"\n   ```\n\n2. second\n\nDone.\n")
    incremental = IncrementalHTML()
    for end in range(1, len(reply) + 1, 3):
        assert incremental(reply[:end]) == render_html(reply[:end])
    assert incremental(reply) == render_html(reply)
    assert render_html(reply).count('<span style="color:') >= 8


def run_python(script: str) -> str:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("where", ["{}", "> {}", "- item\n\n  {}"], ids=["top level", "quote", "list"])
def test_a_fence_is_coloured_once_closed_and_plain_while_it_streams(where: str) -> None:
    indent = "  " if where.startswith("-") else "> " if where.startswith(">") else ""
    open_fence = where.format("```python\n" + indent + "import math\n" + indent + "math.pi")
    assert "style=\"color:" not in render_html(open_fence).replace(" ", "")
    assert "math.pi" in render_html(open_fence)
    closed = render_html(open_fence + "\n" + indent + "```")
    assert "style=\"color:" in closed.replace(" ", "")


def test_the_package_does_not_import_pygments_until_the_parser_is_built() -> None:
    """Building the parser highlights a warm-up fence: on a thread, while the first request is in flight."""
    shown = run_python("import sys, mistral_magic, mistral_magic.render, mistral_magic.highlight\n"
                       "print('pygments' in sys.modules)\n"
                       "mistral_magic.render.render_html('*text*')\n"
                       "print('pygments' in sys.modules)\n")
    assert shown.split() == ["False", "True"]


def test_loading_the_extension_imports_no_more_of_pygments_than_ipython_does() -> None:
    shown = run_python("import sys\n"
                       "from IPython.core.history import HistoryAccessor\n"
                       "from IPython.core.interactiveshell import InteractiveShell\n"
                       "HistoryAccessor.enabled = False\n"
                       "shell = InteractiveShell.instance()\n"
                       "before = {name for name in sys.modules if name.startswith('pygments')}\n"
                       "shell.run_line_magic('load_ext', 'mistral_magic')\n"
                       "print(sorted({name for name in sys.modules if name.startswith('pygments')} - before))\n")
    assert shown.strip() == "[]"
