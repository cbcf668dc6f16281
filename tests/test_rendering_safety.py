"""Model output is untrusted: the HTML we render never carries script or dangerous links."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mistral_magic.render import bundle, render_html

from browser import screenshot
from xss_payloads import PAYLOADS

# Every tag markdown-it's js-default preset can produce, plus our wrapper's.
SAFE_TAGS = {"a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
             "hr", "img", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th",
             "thead", "tr", "ul"}
SAFE_ATTRIBUTES = {"href", "src", "alt", "title", "class", "style", "target", "rel", "start"}
SAFE_SCHEMES = ("http:", "https:", "mailto:", "data:image/png", "data:image/gif", "data:image/jpeg",
                "data:image/webp")


class TagAudit(HTMLParser):
    """Collect every tag and attribute a browser would see in rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES:
                self.problems.append(f"attribute {name} on <{tag}>")
            elif name in ("href", "src") and not _safe_url(value or ""):
                self.problems.append(f"{name}={value!r}")
            elif name == "style" and "url(" in (value or ""):
                self.problems.append(f"style={value!r}")


def _safe_url(url: str) -> bool:
    url = "".join(url.split()).lower()
    has_scheme = ":" in url.split("/", 1)[0]
    return not has_scheme or url.startswith(SAFE_SCHEMES)


def audit(markup: str) -> list[str]:
    parser = TagAudit()
    parser.feed(markup)
    parser.close()
    return parser.problems


def test_the_corpus_is_large_enough():
    assert len(PAYLOADS) >= 40 and len(set(PAYLOADS)) == len(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_payload_has_no_script_handlers_or_dangerous_links(payload):
    rendered = bundle(payload, notice="interrupted", footer="model · 1 in / 1 out")["text/html"]
    assert audit(rendered) == []


def test_raw_html_is_shown_as_text_not_dropped():
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render_html("<script>alert(1)</script>")


def test_safe_links_keep_working_and_open_in_a_new_tab():
    rendered = render_html("[docs](https://docs.mistral.ai) and https://example.com")
    assert rendered.count('target="_blank" rel="noopener noreferrer nofollow"') == 2


@given(st.text(alphabet=st.sampled_from(list("<>\"'`=/:;()[]{}!&#*_-\\\n ajvscriptonerolad1")) | st.characters(),
               max_size=200))
def test_arbitrary_text_renders_safely(text):
    assert audit(render_html(text)) == []


def test_no_payload_runs_or_navigates_in_a_browser(chromium):
    page = chromium.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sections = "".join(
        f'<section><h6>{html.escape(repr(p))}</h6>{bundle(p)["text/html"]}</section>' for p in PAYLOADS)
    page.set_content(f"<!doctype html><meta charset=utf-8><body>{sections}</body>")
    start = page.url
    page.evaluate("""() => {
        for (const element of document.querySelectorAll('body *')) {
            for (const type of ['mouseover', 'mouseenter', 'focus', 'toggle', 'load', 'error'])
                element.dispatchEvent(new Event(type));
            if (element.focus) element.focus();
        }
    }""")
    for link in page.query_selector_all("a"):
        assert _safe_url(link.get_attribute("href") or "")
    page.wait_for_timeout(300)
    screenshot(page, "rendering-safety")
    assert dialogs == [] and page.url == start
    assert page.evaluate("document.querySelectorAll('script, iframe, object, embed, svg').length") == 0
    page.close()


def test_no_payload_runs_in_jupyterlab(chromium, jupyterlab):
    """The same outputs, live in JupyterLab, where a kernel's own HTML output is trusted."""
    show = "from IPython.display import display\nfrom mistral_magic.render import bundle\n"
    # A cell shows at most 50 outputs in JupyterLab: 20 payloads a cell.
    cells = [nbformat.v4.new_code_cell("%load_ext mistral_magic"),
             *[nbformat.v4.new_code_cell(f"{show}for payload in {PAYLOADS[start:start + 20]!r}:\n"
                                         "    display(bundle(payload), raw=True)")
               for start in range(0, len(PAYLOADS), 20)],
             nbformat.v4.new_code_cell("%%mistral\n" + " ".join(
                 ["<script>alert(1)</script>", "[x](javascript:alert(1))", "<img src=x onerror=alert(1)>"]))]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), jupyterlab.root / "hostile.ipynb")
    page = jupyterlab.open(chromium, "hostile.ipynb")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    start = page.url
    jupyterlab.run_all(page)
    page.wait_for_function(f"() => document.querySelectorAll('.mistral-reply').length >= {len(PAYLOADS) + 1}")
    outputs = ".jp-OutputArea-output"
    page.evaluate("""(selector) => {
        for (const element of document.querySelectorAll(selector + ' *')) {
            for (const type of ['mouseover', 'mouseenter', 'focus', 'toggle', 'load', 'error'])
                element.dispatchEvent(new Event(type));
        }
    }""", outputs)
    hrefs = page.evaluate(f"() => [...document.querySelectorAll('{outputs} a')].map(a => a.getAttribute('href'))")
    page.wait_for_timeout(300)
    screenshot(page, "rendering-safety-jupyterlab")
    assert dialogs == [] and page.url == start
    assert all(_safe_url(href or "") for href in hrefs) and len(hrefs) >= 4  # the https ones
    dangerous = f"{outputs} script, {outputs} iframe, {outputs} object, {outputs} embed, {outputs} svg"
    assert page.evaluate(f"() => document.querySelectorAll('{dangerous}').length") == 0
    page.close()
