"""The notebook as context, in a real IPython shell against the loopback server.

Variables and errors described in the message, images as content chunks, the
reply's code put in a new cell, and a reasoning model's thinking folded above
its answer.
"""

from __future__ import annotations

import base64
import re
import sys

import pytest
from IPython.core.error import UsageError

from mistral_magic.images import MAX_BYTES

import mistral_server as ms
from helpers import assert_refused_before_sending, chat_bodies, final_html, history, magics_of, run, run_failing

PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def user_content(server) -> object:
    return chat_bodies(server)[-1]["messages"][-1]["content"]


def image_urls(content) -> list[str]:
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


# --------------------------------------------------------------------------- --context


def test_context_describes_a_dataframe_in_the_message_and_the_turn_keeps_it(shell, server):
    pd = pytest.importorskip("pandas")
    shell.user_ns["sales"] = pd.DataFrame({"region": ["north", "south"] * 50_000,
                                           "amount": range(100_000)})
    run(shell, "%%mistral --context sales\nWhich region sells more?")
    sent = user_content(server)
    assert sent.startswith("Which region sells more?\n\n")
    for fact in ("sales", "100,000 rows", "region", "amount", "int64", "north"):
        assert fact in sent
    assert len(sent) < len("Which region sells more?") + 2 + magics_of(shell).context_chars + 1
    assert history(shell)[0] == sent  # a later cell re-sends the same context


def test_context_chars_sets_the_budget_per_cell(shell, server):
    shell.user_ns["numbers"] = list(range(10_000))
    run(shell, "%%mistral --context numbers --context-chars 300\nsum?")
    block = user_content(server).split("\n\n", 1)[1]
    assert len(block) <= 300 and "cut" in block


def test_unknown_context_names_are_one_error_before_any_request(shell, server):
    assert_refused_before_sending(shell, server, "known = 1", "--context known,nope,nada", "nope, nada")


def test_context_and_vars_combine_and_dry_run_shows_the_message_as_sent(shell, server):
    shell.user_ns.update(city="Lyon", facts={"population": 522_250})
    run(shell, "%%mistral --vars --context facts --dry-run -o body\nTell me about {city}.")
    message = shell.user_ns["body"]["messages"][-1]["content"]
    assert message.startswith("Tell me about Lyon.\n\n") and "522250" in message
    assert chat_bodies(server) == []


# --------------------------------------------------------------------------- %mistral_explain


def test_explain_sends_the_last_error_with_its_traceback_and_cell(shell, server):
    run_failing(shell, "def ratio(a, b):\n    return a / b\n\nratio(1, 0)")
    run(shell, "%mistral_explain I wanted a ratio")
    sent = user_content(server)
    for fact in ("ZeroDivisionError", "division by zero", "return a / b", "ratio(1, 0)", "I wanted a ratio"):
        assert fact in sent
    assert "\x1b[" not in sent
    assert len(history(shell)) == 2  # the explanation is a turn, as a cell's reply is


def test_explain_with_no_error_yet_says_so_and_sends_nothing(shell, server, monkeypatch):
    monkeypatch.delattr(sys, "last_value", raising=False)
    captured = run(shell, "%mistral_explain")
    assert "No error to explain" in captured.stdout
    assert chat_bodies(server) == []


def test_explain_code_puts_the_fix_in_a_new_cell(shell, server):
    run_failing(shell, "int('x')")
    server.enqueue(ms.reply("Use a number:\n\n```python\nint('1')\n```\n"))
    run(shell, "%mistral_explain --code -o fix")
    assert shell.rl_next_input == "int('1')" == shell.user_ns["fix"]


# --------------------------------------------------------------------------- --code


@pytest.mark.parametrize(("reply", "code"), [
    ("Try:\n\n```sql\nselect 1\n```\n\nor:\n\n```python\nprint(1)\n```\n\n```text\nout\n```\n", "print(1)"),
    ("```bash\nls -l\n```\n", "ls -l"),
])
def test_code_puts_the_last_python_block_else_the_last_block_in_a_new_cell(shell, server, reply, code):
    server.enqueue(ms.reply(reply))
    run(shell, "%%mistral --code -o snippet\nwrite it")
    assert shell.rl_next_input == code == shell.user_ns["snippet"]


def test_code_without_a_block_is_a_note_and_inserts_nothing(shell, server):
    shell.rl_next_input = None
    captured = run(shell, "%%mistral --code -o snippet\nno code please")
    assert "no code block" in captured.stdout
    assert shell.rl_next_input is None and shell.user_ns["snippet"] is None


def test_code_in_a_terminal_is_printed_to_copy(shell, server):
    run(shell, "%config MistralMagics.output = 'text'")
    server.enqueue(ms.reply("```python\nx = 1\n```"))
    shell.rl_next_input = None
    captured = run(shell, "%%mistral --code\nwrite it")
    assert captured.stdout.rstrip().endswith("to copy:\n\nx = 1")
    assert shell.rl_next_input is None


# --------------------------------------------------------------------------- --image


def test_image_plt_sends_the_last_figure_shown_as_a_png(shell, server):
    pytest.importorskip("matplotlib")
    run(shell, "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
               "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([1, 3, 2])\ndisplay(fig)\nplt.close('all')")
    captured = run(shell, "%%mistral --image plt\nDescribe the trend.")
    content = user_content(server)
    assert content[0] == {"type": "text", "text": "Describe the trend."}
    (url,) = image_urls(content)
    assert url.startswith("data:image/png;base64,")
    assert "[image: image/png" in final_html(captured)  # the server decoded a real PNG
    assert history(shell)[0] == content  # the turn keeps the chunks


def test_image_plt_never_sends_a_blank_new_figure(shell, server):
    pytest.importorskip("matplotlib")
    run(shell, "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.figure()")
    magics_of(shell).figures.shown = None
    with pytest.raises(UsageError, match="no figure has been shown"):
        shell.run_cell_magic("mistral", "--image plt", "describe")
    assert chat_bodies(server) == []
    run(shell, "plt.close('all')")


def test_image_from_bytes_a_path_a_pil_image_and_a_url(shell, server, tmp_path):
    image = pytest.importorskip("PIL.Image")
    (tmp_path / "dot.png").write_bytes(PNG_1x1)
    shell.user_ns.update(raw=PNG_1x1, path=str(tmp_path / "dot.png"), pic=image.new("RGB", (8, 6)))
    run(shell, f"%%mistral --image raw --image path --image {tmp_path}/dot.png --image pic "
               "--image https://example.com/cat.jpg\nWhat are these?")
    urls = image_urls(user_content(server))
    assert [url[:22] for url in urls[:4]] == ["data:image/png;base64,"] * 4
    assert base64.b64decode(urls[0].split(",", 1)[1]) == PNG_1x1
    assert urls[4] == "https://example.com/cat.jpg"


@pytest.mark.parametrize(("setup", "given", "words"), [
    ("thing = 42", "thing", "a value of type int is not an image"),
    ("uri = 'data:image/svg+xml;base64,PHN2Zz4='", "uri", "a data URI must be data:image/png"),
    ("blob = b'not an image'", "blob", "not a PNG, JPEG, WEBP or GIF"),
    ("", "missing.png", "no file or variable named 'missing.png'"),
])
def test_what_is_not_an_image_is_one_error_before_any_request(shell, server, setup, given, words):
    assert_refused_before_sending(shell, server, setup, f"--image {given}", words)


def test_an_image_over_twenty_megabytes_is_refused(shell, server, tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.write(PNG_1x1)
        file.truncate(MAX_BYTES + 1)
    assert_refused_before_sending(shell, server, "", f"--image {big}", "at most 20.0 MB")


def test_history_and_export_show_a_placeholder_not_base64(shell, server, tmp_path):
    shell.user_ns["raw"] = PNG_1x1
    run(shell, "%%mistral --image raw\nWhat is it?")
    shown = run(shell, "%mistral_history").outputs[0].data["text/markdown"]
    assert "[image: image/png, 1 KB]" in shown and "iVBOR" not in shown
    run(shell, f"%mistral_export {tmp_path}/chat.md")
    exported = (tmp_path / "chat.md").read_text()
    assert "[image: image/png" in exported and "base64" not in exported


def test_dry_run_cuts_an_image_short_and_out_keeps_it_whole(shell, server):
    shell.user_ns["raw"] = PNG_1x1 * 200
    captured = run(shell, "%%mistral --image raw --dry-run -o body\nhi")
    assert "characters in all" in captured.outputs[0].data["text/markdown"]
    assert len(image_urls(shell.user_ns["body"]["messages"][-1]["content"])[0]) > 10_000


# --------------------------------------------------------------------------- reasoning


def test_thinking_shows_folded_above_the_answer_and_only_the_answer_is_kept(shell, server):
    server.enqueue(ms.reply("Forty-two.", content_list=True))
    captured = run(shell, "%%mistral -o answer\nThe answer?")
    html = final_html(captured)
    assert re.search(r'<details class="mistral-thinking"><summary[^>]*>Thought for \d+\.\d s</summary>', html)
    assert html.index("Let me think") < html.index("Forty-two.")
    assert "<details open" not in html
    assert shell.user_ns["answer"] == "Forty-two."
    assert history(shell) == ["The answer?", "Forty-two."]
    assert "think" not in captured.outputs[-1].data["text/markdown"]


def test_thinking_without_streaming_is_folded_too(shell, server):
    server.enqueue(ms.reply("Whole.", content_list=True))
    html = final_html(run(shell, "%%mistral --no-stream\nq"))
    assert "Thought for" in html and "Let me think about it." in html


def test_reasoning_effort_is_sent(shell, server):
    run(shell, "%%mistral --reasoning-effort high\nq")
    assert chat_bodies(server)[-1]["reasoning_effort"] == "high"


def test_a_thinking_reply_in_a_terminal_prints_the_thinking_before_the_answer(shell, server):
    run(shell, "%config MistralMagics.output = 'text'")
    server.enqueue(ms.reply("Done.", content_list=True))
    out = run(shell, "%%mistral\nq").stdout
    assert re.match(r"Thinking…\nLet me think about it\.\n\n\(thought for \d+\.\d s\)\n\nDone\.", out)


@pytest.fixture
def png_figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2])
    yield figure
    plt.close(figure)


def test_a_figure_becomes_a_png_chunk(png_figure):
    from mistral_magic.images import image_chunk

    url = image_chunk(png_figure, "fig")["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")
    assert len(base64.b64decode(url.split(",", 1)[1])) > 1000
