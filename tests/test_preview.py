"""``--dry-run`` in a real IPython shell: the body shown is the body sent, and nothing is sent."""

from __future__ import annotations

import json

from helpers import TOOLS, final_html, history, run


def test_dry_run_shows_the_exact_body_without_the_key_and_sends_nothing(shell, server, monkeypatch):
    run(shell, "%%mistral --role system\nBe brief.")
    with monkeypatch.context() as patch:
        patch.setenv("MISTRAL_API_KEY", "sk-dry-run-secret-42")
        captured = run(shell, "%%mistral --dry-run -t 0.2 --stop END -o body\nHello {there}")
    assert server.requests == []
    body = shell.user_ns["body"]
    assert body == {"model": "mistral-small-latest", "temperature": 0.2, "stop": ["END"], "stream": True,
                    "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hello {there}"}]}
    shown = captured.outputs[-1].data["text/markdown"]
    assert shown.startswith("**Dry run**: nothing was sent.")
    assert "```json\n" + json.dumps(body, indent=2) + "\n```" in shown
    assert "sk-dry-run" not in repr(captured.outputs) and history(shell) == ["Be brief."]
    run(shell, "%%mistral -t 0.2 --stop END\nHello {there}")
    assert server.last_body == body  # what the dry run showed is what a send posts


def test_dry_run_needs_no_key_and_shows_every_combination_and_the_tools(shell, server, monkeypatch):
    monkeypatch.delenv("MISTRAL_API_KEY")
    run(shell, TOOLS)
    run(shell, "%%mistral --dry-run --compare -m mistral-small-latest,mistral-large-latest --tools add -o bodies\n"
               "1 + 1?")
    bodies = shell.user_ns["bodies"]
    assert [body["model"] for body in bodies] == ["mistral-small-latest", "mistral-large-latest"]
    assert bodies[0]["tools"][0]["function"]["name"] == "add" and server.requests == []


def test_a_prompt_with_backtick_fences_stays_inside_the_shown_body(shell, server):
    captured = run(shell, "%%mistral --dry-run\n```python\nprint(1)\n```")
    assert "<pre><code class=\"language-json\">" in final_html(captured)
    assert "<code class=\"language-python\">" not in final_html(captured)
