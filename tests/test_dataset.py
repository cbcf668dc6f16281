"""``%%mistral --over``: one prompt over a table's rows, in a real IPython shell against the loopback server."""

from __future__ import annotations

import time

import pytest

import mistral_server as ms
from helpers import assert_refused_before_sending, chat_bodies, error_line, interrupt_main_after, run, run_failing

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings(
    # ipywidgets 7.7.0, the floor, opens the progress bar's comm through ipykernel's deprecated Comm class.
    "ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning")


@pytest.fixture
def reviews(shell):
    shell.user_ns["reviews"] = pd.DataFrame({"text": [f"review {i}" for i in range(30)],
                                             "stars": [i % 5 + 1 for i in range(30)]},
                                            index=[f"r{i}" for i in range(30)])


def prompts(server) -> list[str]:
    return [body["messages"][-1]["content"] for body in chat_bodies(server)]


def test_each_row_is_one_request_and_the_answers_align_with_the_frame(shell, server, reviews):
    run(shell, "%%mistral --role system\nLabel reviews.")
    captured = run(shell, "%%mistral --over reviews -o labels\nLabel ({stars} stars): {text}")
    labels = shell.user_ns["labels"]
    assert list(labels.index) == [f"r{i}" for i in range(30)]
    assert labels["r7"] == "Echo: Label (3 stars): review 7" and labels.attrs["errors"] == {}
    bodies = chat_bodies(server)
    assert len(bodies) == 30 and all(body["stream"] is False for body in bodies)
    assert all(body["messages"][0] == {"role": "system", "content": "Label reviews."} for body in bodies)
    assert all(len(body["messages"]) == 2 for body in bodies)  # no history: rows are independent
    assert shell.magics_manager.registry["MistralMagics"].store["default"].turns == []
    assert "30 of 30 rows" in captured.stdout and " in / " in captured.stdout  # the summary line


def test_a_failed_row_holds_nothing_keeps_its_error_and_alone_is_sent_again(shell, server, reviews):
    server.enqueue(ms.invalid_model("mistral-small-latest"))
    run(shell, "%%mistral --over reviews --concurrency 1 -o labels\n{text}")
    labels = shell.user_ns["labels"]
    assert labels["r0"] is None and labels["r1"] == "Echo: review 1"
    assert labels.attrs["errors"]["r0"].startswith("APIStatusError: Mistral API answered 400")
    server.reset()
    captured = run(shell, "%%mistral --over reviews -o labels\n{text}")
    assert prompts(server) == ["review 0"]
    assert shell.user_ns["labels"]["r0"] == "Echo: review 0"
    assert "29 answered before" in captured.stdout


def test_fresh_sends_every_row_again(shell, server, reviews):
    run(shell, "%%mistral --over reviews\n{text}")
    server.reset()
    run(shell, "%%mistral --over reviews --fresh\n{text}")
    assert len(chat_bodies(server)) == 30


def test_retries_keep_every_row(shell, server, reviews):
    server.enqueue(ms.rate_limited(retry_after="0.1"), ms.server_error(503))
    run(shell, "%%mistral --over reviews -o labels\n{text}")
    assert shell.user_ns["labels"].attrs["errors"] == {}


def test_a_rate_limit_on_one_row_holds_back_every_worker(shell, server, reviews):
    arrived: list[float] = []

    def timed(script: ms.scripts.Script) -> ms.scripts.Script:
        return ms.scripts.Script("timed", lambda ex: (arrived.append(time.monotonic()), script.run(ex)))

    server.enqueue(timed(ms.rate_limited(retry_after="0.5")), *[timed(ms.reply("ok")) for _ in range(30)])
    run(shell, "%%mistral --over reviews --concurrency 4 -o labels\n{text}")
    assert shell.user_ns["labels"].attrs["errors"] == {}
    limited, *after = arrived
    # Once the client has read the 429 (a few ms), nothing goes out until the 0.5 s are over.
    held = [at - limited for at in after if 0.05 < at - limited < 0.45]
    assert held == [] and len(after) == 30


def test_an_interrupt_keeps_the_rows_answered_and_a_re_run_sends_only_the_rest(shell, server, reviews):
    server.enqueue(*[ms.reply("slow", delay=0.2) for _ in range(30)])
    timer = interrupt_main_after(0.5)
    try:
        _, error = run_failing(shell, "%%mistral --over reviews --concurrency 2 -o labels\n{text}")
    finally:
        timer.cancel()  # a run that failed first must not leave Ctrl-C to land on the next test
        timer.join()
    assert error_line(error).startswith("ReplyInterrupted: interrupted: the rows answered so far are kept")
    labels = shell.user_ns["labels"]
    answered = [label for label in labels.index if labels[label] == "slow"]
    assert 2 <= len(answered) < 30
    assert set(labels.attrs["errors"].values()) == {"not sent: interrupted"}
    server.reset()
    run(shell, "%%mistral --over reviews -o labels\n{text}")
    assert len(chat_bodies(server)) == 30 - len(answered)
    assert shell.user_ns["labels"].attrs["errors"] == {}


def test_plain_values_fill_item_and_give_a_list_in_order(shell, server):
    shell.user_ns["cities"] = ["Lyon", "Nice", "Brest"]
    run(shell, "%%mistral --over cities --json -o facts\nJSON about {item}")
    facts = shell.user_ns["facts"]
    assert facts == [{"echo": f"JSON about {city}"} for city in ("Lyon", "Nice", "Brest")] and facts.errors == {}


def test_a_row_missing_a_field_fails_alone_with_its_fields_named(shell, server):
    shell.user_ns["records"] = [{"city": "Lyon"}, {"town": "Nice"}]
    run(shell, "%%mistral --over records -o out\nAbout {city}")
    out = shell.user_ns["out"]
    assert out[0] == "Echo: About Lyon" and out[1] is None
    assert out.errors == {1: "--over: row 1 has no field city (its fields: town); write {{ and }} for "
                             "literal braces."}


def test_a_schema_gives_a_frame_of_fields(shell, server, reviews):
    shell.user_ns["schema"] = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    run(shell, "%%mistral --over reviews --schema schema -o fields\n{text}")
    fields = shell.user_ns["fields"]
    assert list(fields.columns) == ["echo"] and fields.loc["r3", "echo"] == "review 3"


def test_dry_run_shows_the_first_rows_body(shell, server, reviews):
    run(shell, "%%mistral --over reviews --dry-run -o body\n{text}")
    assert shell.user_ns["body"]["messages"] == [{"role": "user", "content": "review 0"}]
    assert chat_bodies(server) == []


def test_a_notebook_shows_a_progress_bar(shell, server, reviews):
    captured = run(shell, "%%mistral --over reviews\n{text}")
    assert any("application/vnd.jupyter.widget-view+json" in output.data for output in captured.outputs)


@pytest.mark.parametrize(("setup", "line", "words"), [
    ("", "--over nothing", "--over: no variable named nothing"),
    ("n = 3", "--over n", "--over n: a int has no rows"),
    ("rows = [1]", "--over rows --compare -t 0,1", "--over and --compare do not go together"),
    ("rows = [1]", "--over rows --concurrency 0", "--concurrency '0' is not a whole number of at least 1"),
])
def test_what_cannot_run_is_one_error_before_any_request(shell, server, setup, line, words):
    assert_refused_before_sending(shell, server, setup, line, words)


def test_the_python_api_runs_the_same_rows_outside_magics(server, capsys):
    from mistral_magic import over

    frame = pd.DataFrame({"city": ["Lyon", "Nice"]}, index=["a", "b"])
    result = over(frame, "About {city}", temperature=0, concurrency=2, system="Be brief.")
    assert result.to_dict() == {"a": "Echo: About Lyon", "b": "Echo: About Nice"}
    bodies = chat_bodies(server)
    assert {body["temperature"] for body in bodies} == {0} and bodies[0]["messages"][0]["role"] == "system"
    assert "2 of 2 rows" in capsys.readouterr().err
    server.reset()
    again = over(frame, lambda row: f"About {row['city']}", temperature=0, system="Be brief.", progress=False)
    assert again.tolist() == result.tolist()
    assert chat_bodies(server) == []  # the same bodies: answered before
    listed = over(["x", "y"], "Say {item}", model="mistral-large-latest", progress=False)
    assert listed == ["Echo: Say x", "Echo: Say y"] and chat_bodies(server)[-1]["model"] == "mistral-large-latest"


def test_a_pydantic_schema_gives_a_frame_of_its_fields(shell, server, reviews):
    pydantic = pytest.importorskip("pydantic")
    shell.user_ns["Echoed"] = pydantic.create_model("Echoed", echo=(str, ...))
    run(shell, "%%mistral --over reviews --schema Echoed -o fields\n{text}")
    fields = shell.user_ns["fields"]
    assert list(fields.columns) == ["echo"] and fields.loc["r5", "echo"] == "review 5"


def test_a_long_run_suggests_the_batch_api_while_it_runs(shell, server, reviews, monkeypatch):
    from mistral_magic import dataset

    monkeypatch.setattr(dataset, "LONG_RUN", 0)  # any time left is long
    server.enqueue(*[ms.reply("ok", delay=0.05) for _ in range(30)])
    run(shell, "%config MistralMagics.output = 'text'")
    lines = run(shell, "%%mistral --over reviews --concurrency 1\n{text}").stdout.split("\r")
    assert any(line.rstrip("\033[K").endswith("--batch would run it at half price, outside rate limits")
               for line in lines[:-1])
    assert "--batch" not in lines[-1]  # the summary left behind
