"""Model output is untrusted: the HTML we render never carries script or dangerous links."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from browser import screenshot
from mistral_magic.render import bundle, render_html
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
