"""``--code`` and highlighted replies, in JupyterLab in Chromium.

The loopback server echoes the prompt, so a prompt holding a fenced block gets a
reply holding the same block: the code a model would write.
"""

from __future__ import annotations

import nbformat

from browser import screenshot

CODE = "totals = {'north': 3, 'south': 5}\nprint(max(totals, key=totals.get))"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
BOX = "rgb(32, 32, 32)"  # the code box's own background, whatever the theme


def _notebook(root) -> None:
    cells = [nbformat.v4.new_code_cell("%load_ext mistral_magic"),
             nbformat.v4.new_code_cell(f"%%mistral --code\nWhich region sells most?\n\n```python\n{CODE}\n```"),
             nbformat.v4.new_code_cell("%%mistral -m magistral-medium-latest -c maths\nIs 97 prime?")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=KERNEL), root / "context.ipynb")


def _sources(page) -> list[str]:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                         ".map(cell => cell.model.sharedModel.getSource())")


def _code_colours(page) -> dict:
    """The code box's background and text colour, and the colours of its tokens."""
    return page.evaluate("""() => {
        const box = document.querySelector('.mistral-reply pre code > span');
        const tokens = [...box.querySelectorAll('span')].map(span => getComputedStyle(span).color);
        return {background: getComputedStyle(box).backgroundColor, text: getComputedStyle(box).color,
                tokens: [...new Set(tokens)]};
    }""")


def test_code_lands_in_a_new_cell_below_and_code_is_highlighted_in_both_themes(chromium, jupyterlab):
    _notebook(jupyterlab.root)
    page = jupyterlab.open(chromium, "context.ipynb")
    try:
        jupyterlab.run_cell(page, 0)
        jupyterlab.run_cell(page, 1)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.widgets.length === 4")
        sources = _sources(page)
        assert sources[2] == CODE  # right below the asking cell, before the cells that were there
        assert sources[3].startswith("%%mistral -m magistral")
        jupyterlab.run_cell(page, 3)
        page.wait_for_selector("details.mistral-thinking summary:has-text('Thought for')")
        assert page.evaluate("() => document.querySelector('details.mistral-thinking').open") is False
        light = _code_colours(page)
        screenshot(page, "notebook-context-light")
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)
        dark = _code_colours(page)
        screenshot(page, "notebook-context-dark")
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Light'})")
        page.close()
    for colours in (light, dark):
        assert colours["background"] == BOX and colours["text"] == "rgb(208, 208, 208)"
        assert len(set(colours["tokens"]) - {colours["text"]}) >= 2  # keywords, names, strings differ
