"""``--over --batch`` and ``%mistral_batch``: Mistral's Batch API, in a real IPython shell, against the loopback
server."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError

import mistral_server as ms
from helpers import chat_bodies, error_line, magics_of, run, run_failing

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings(
    # ipywidgets 7.7.0, the floor, opens the progress bar's comm through ipykernel's deprecated Comm class.
    "ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning")

LABEL = "%%mistral --over reviews --batch -o labels\nLabel ({stars} stars): {text}"


@pytest.fixture
def reviews(shell):
    run(shell, "%config MistralMagics.batch_poll_interval = 0.01")
    shell.user_ns["reviews"] = pd.DataFrame({"text": [f"review {i}" for i in range(30)],
                                             "stars": [i % 5 + 1 for i in range(30)]},
                                            index=[f"r{i}" for i in range(30)])


def only_job(server) -> ms.batch.BatchJob:
    (job,) = server.batch_jobs.values()
    return job


@contextlib.contextmanager
def ctrl_c_while_running(server) -> Iterator[None]:
    """Press Ctrl-C once the job has been seen running, as a user watching it would; the job then never ends."""
    polls, server.batch_polls = server.batch_polls, 1_000_000

    def press() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(job.status == "RUNNING" for job in server.batch_jobs.values()):
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    presser = threading.Thread(target=press)
    presser.start()
    try:
        yield
    finally:
        presser.join()
        server.batch_polls = polls  # for the jobs sent later


def restart(shell) -> None:
    """What a kernel restart does to the extension: a new one, knowing no job and no answer."""
    shell.extension_manager.reload_extension("mistral_magic")
    run(shell, "%config MistralMagics.batch_poll_interval = 0.01")


def test_the_rows_go_as_one_job_and_come_back_aligned_with_the_frame(shell, server, reviews):
    run(shell, "%%mistral --role system\nLabel reviews.")
    captured = run(shell, LABEL)
    labels = shell.user_ns["labels"]
    assert list(labels.index) == list(shell.user_ns["reviews"].index)
    assert labels["r7"] == "Echo: Label (3 stars): review 7" and labels.attrs["errors"] == {}
    assert chat_bodies(server) == []  # nothing went through the chat route
    job = only_job(server)
    assert (job.endpoint, job.model, job.input_files) == ("/v1/chat/completions", "mistral-small-latest", [])
    assert [line.custom_id for line in job.lines] == [str(i) for i in range(30)]
    assert job.lines[7].body == {"messages": [{"role": "system", "content": "Label reviews."},
                                              {"role": "user", "content": "Label (3 stars): review 7"}]}
    assert job.metadata == {"over": "reviews", "format": "text", "out": "labels", "rows": "30",
                            "source": "mistral-magic"}
    assert f"batch job {job.id} SUCCESS · 30 of 30 rows" in captured.stdout  # the summary, kept as text
    assert any("application/vnd.jupyter.widget-view+json" in output.data for output in captured.outputs)
    assert shell.user_ns["labels"] is labels and magics_of(shell).store["default"].turns == []


def test_the_jobs_status_and_growing_counts_show_while_it_runs(shell, server, reviews):
    run(shell, "%config MistralMagics.output = 'text'")
    lines = run(shell, LABEL).stdout.replace("\033[K", "").split("\r")  # a line rewritten in place
    shown = [line.split(" · ")[1:3] for line in lines if line.startswith("batch job") and " · " in line]
    assert shown[0] == ["QUEUED", "0 of 30 requests"]
    running = [counts for status, counts in shown if status == "RUNNING"]
    assert running == ["7 of 30 requests", "15 of 30 requests", "22 of 30 requests"]
    assert lines[-1].startswith(f"batch job {only_job(server).id} SUCCESS · 30 of 30 rows")


def test_a_large_job_is_uploaded_as_a_jsonl_file(shell, server, reviews, monkeypatch):
    from mistral_magic import batch

    monkeypatch.setattr(batch, "INLINE_MOST", 10)
    run(shell, LABEL)
    (stored,) = [stored for stored in server.files.values() if stored.purpose == "batch" and stored.source != "mistral"]
    assert stored.filename == "labels.jsonl" and only_job(server).input_files == [stored.id]
    lines = [json.loads(raw) for _, raw in stored.lines()]
    assert [line["custom_id"] for line in lines] == [str(i) for i in range(30)]
    assert lines[0]["body"] == {"messages": [{"role": "user", "content": "Label (1 stars): review 0"}]}
    assert shell.user_ns["labels"]["r29"] == "Echo: Label (5 stars): review 29"


def test_a_row_the_job_failed_holds_nothing_keeps_its_error_and_alone_is_sent_again(shell, server, reviews):
    server.enqueue(ms.invalid_model("mistral-small-latest"))  # the job's first line
    run(shell, LABEL)
    labels = shell.user_ns["labels"]
    assert labels["r0"] is None and labels["r1"] == "Echo: Label (2 stars): review 1"
    assert labels.attrs["errors"]["r0"].startswith("APIStatusError: Mistral API answered 400")
    assert only_job(server).error_file is not None
    first = only_job(server).id
    captured = run(shell, LABEL)
    (again,) = [job for job in server.batch_jobs.values() if job.id != first]
    assert [line.custom_id for line in again.lines] == ["0"]
    assert shell.user_ns["labels"].attrs["errors"] == {} and "29 answered before" in captured.stdout


def test_running_the_cell_again_once_collected_sends_nothing(shell, server, reviews):
    run(shell, LABEL)
    captured = run(shell, LABEL)
    assert len(server.batch_jobs) == 1 and "30 answered before" in captured.stdout
    assert shell.user_ns["labels"]["r3"] == "Echo: Label (4 stars): review 3"


def test_ctrl_c_stops_watching_and_the_job_runs_on_until_the_cell_follows_it_again(shell, server, reviews):
    with ctrl_c_while_running(server):
        _, error = run_failing(shell, LABEL)
    job = only_job(server)
    assert error_line(error) == (f"ReplyInterrupted: stopped watching batch job {job.id}, which runs on: "
                                 f"%mistral_batch {job.id} collects it, and --cancel stops it.")
    assert job.status == "RUNNING" and "labels" not in shell.user_ns
    job.running_polls = job.polls  # the job ends at the next poll
    captured = run(shell, LABEL)
    assert len(server.batch_jobs) == 1
    assert f"Following batch job {job.id}, sent before for these rows." in captured.stdout
    assert shell.user_ns["labels"].attrs["errors"] == {}


def test_mistral_batch_collects_a_job_after_a_kernel_restart(shell, server, reviews):
    shell.user_ns["schema"] = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    with ctrl_c_while_running(server):
        run_failing(shell, "%%mistral --over reviews --batch --schema schema -o fields\n{text}")
    job = only_job(server)
    restart(shell)
    job.running_polls = job.polls
    captured = run(shell, f"%mistral_batch {job.id}")
    fields = shell.user_ns["fields"]  # the -o the job was sent with, aligned with the table it names
    assert list(fields.index) == list(shell.user_ns["reviews"].index) and list(fields.columns) == ["echo"]
    assert fields.loc["r4", "echo"] == "review 4" and "30 of 30 rows" in captured.stdout


def test_a_job_collected_with_no_table_defined_gives_a_list_in_row_order(shell, server, reviews):
    run(shell, LABEL)
    job = only_job(server)
    restart(shell)
    del shell.user_ns["reviews"]
    run(shell, f"%mistral_batch {job.id} -o again")
    again = shell.user_ns["again"]
    assert again[0] == "Echo: Label (1 stars): review 0" and len(again) == 30 and again.errors == {}


def test_a_table_of_another_length_is_refused(shell, server, reviews):
    run(shell, LABEL)
    shell.user_ns["short"] = shell.user_ns["reviews"].head(3)
    with pytest.raises(UsageError, match="short has 3 rows, and the batch job was sent for 30"):
        shell.run_line_magic("mistral_batch", f"{only_job(server).id} --over short")


def test_mistral_batch_lists_the_recent_jobs(shell, server, reviews):
    run(shell, LABEL)
    run(shell, "%%mistral --over reviews --batch --fresh\n{text}")
    captured = run(shell, "%mistral_batch")
    html = captured.outputs[-1].data["text/html"]
    for job in server.batch_jobs.values():
        assert job.id in html
    assert "30 of 30" in html and "labels" in html


def test_a_cancelled_job_keeps_no_answer_and_says_how_it_ended(shell, server, reviews):
    with ctrl_c_while_running(server):
        run_failing(shell, LABEL)
    job = only_job(server)
    assert "CANCELLATION_REQUESTED" in run(shell, f"%mistral_batch --cancel {job.id}").stdout
    _, error = run_failing(shell, f"%mistral_batch {job.id}")
    assert error_line(error) == f"MistralError: batch job {job.id} ended CANCELLED; the rows it answered are kept."
    assert set(shell.user_ns["labels"].attrs["errors"].values()) == {"no result: the batch job ended CANCELLED"}


def test_a_failed_job_is_an_error_with_the_servers_message(shell, server, reviews):
    server.batch_fail_next = "Out of capacity"
    _, error = run_failing(shell, LABEL)
    job = only_job(server)
    assert error_line(error) == f"MistralError: batch job {job.id} ended FAILED; the rows it answered are kept."
    assert shell.user_ns["labels"].isna().all()


def test_the_python_api_sends_and_collects_a_job(shell, server, reviews):
    from mistral_magic import over

    frame = shell.user_ns["reviews"]
    labels = over(frame, "{text}", batch=True, poll_interval=0.01, progress=False)
    assert labels["r2"] == "Echo: review 2" and list(labels.index) == list(frame.index)
    again = over(frame, "{text}", batch=only_job(server).id, poll_interval=0.01, progress=False)
    assert list(again) == list(labels) and len(server.batch_jobs) == 1


@pytest.mark.parametrize(("setup", "line", "words"), [
    ("", "--batch", "--batch sends the rows of a table as one job: add --over NAME."),
    ("", "--over reviews --batch --concurrency 4", "--batch and --concurrency do not go together"),
])
def test_batch_flags_that_cannot_work_are_refused_before_sending(shell, server, reviews, setup, line, words):
    with pytest.raises(UsageError, match=words):
        shell.run_cell_magic("mistral", line, "{text}")
    assert server.requests == []


@pytest.mark.parametrize(("setup", "line", "words"), [
    ("%config MistralMagics.dialect = 'openai'", "--over reviews --batch",
     "ConfigError: --batch is Mistral's Batch API, which http://127.0.0.1:"),
    ("", "--over reviews --batch -m local:smollm2",
     "ConfigError: --batch: local:smollm2 answers in this kernel, so it has no Batch API; use --over alone."),
])
def test_batch_where_there_is_no_batch_api_is_one_clear_error(shell, server, reviews, setup, line, words):
    run(shell, setup)
    _, error = run_failing(shell, f"%%mistral {line}\n{{text}}")
    assert error_line(error).startswith(words)
    assert server.requests == []


@pytest.mark.parametrize(("line", "words"), [
    ("--cancel", "--cancel needs the JOB_ID of the job to cancel."),
    ("./../files", "'./../files' is not a batch job id: %mistral_batch lists the recent ones."),
    ("7c1a2b3c-0000-4000-8000-000000000000",
     "APIStatusError: Mistral API answered 404 Not Found: Batch job 7c1a2b3c-0000-4000-8000-000000000000 not found"),
])
def test_mistral_batch_errors_are_one_line(shell, server, line, words):
    _, error = run_failing(shell, f"%mistral_batch {line}")
    assert error_line(error).startswith(words)


def test_a_100000_row_job_is_sent_as_a_file_and_collected_after_a_restart(shell, server):
    run(shell, "%config MistralMagics.batch_poll_interval = 0.01")
    shell.user_ns["tickets"] = pd.DataFrame({"text": [f"ticket {i}" for i in range(100_000)]})
    with ctrl_c_while_running(server):
        run_failing(shell, "%%mistral --over tickets --batch -o fields\nExtract: {text}")
    job = only_job(server)
    (upload,) = [stored for stored in server.files.values() if stored.source == "upload"]
    assert len(upload.lines()) == 100_000 and job.input_files == [upload.id]
    restart(shell)
    job.running_polls = job.polls
    run(shell, f"%mistral_batch {job.id}")
    fields = shell.user_ns["fields"]
    assert len(fields) == 100_000 and fields.attrs["errors"] == {}
    assert fields[99_999] == "Echo: Extract: ticket 99999"


def test_batch_offline_is_one_clear_error(shell, server, reviews, monkeypatch):
    from mistral_magic import local

    monkeypatch.setattr(local, "embedded_available", lambda: True)  # as with the embedded model installed
    monkeypatch.delenv("MISTRAL_API_KEY")
    run(shell, "%config MistralMagics.base_url = 'https://api.mistral.ai'")
    _, error = run_failing(shell, "%%mistral --over reviews --batch\n{text}")
    assert error_line(error) == ("ConfigError: --batch sends the rows to Mistral's Batch API, and no key is set "
                                 "(MISTRAL_API_KEY); --over alone answers them offline.")
