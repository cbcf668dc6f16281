"""Event-stream framing: CR/LF only, comments, multi-line data, any split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mistral_magic.sse import EventDecoder


def decode(*pieces: str) -> list[str]:
    decoder = EventDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


def test_each_line_ending_frames_events():
    assert decode('data: {"a":1}\n\ndata: 2\r\n\r\ndata: 3\r\rdata: [DONE]\n\n') == [
        '{"a":1}', "2", "3", "[DONE]"]


def test_unicode_line_separators_stay_inside_json():
    assert decode('data: {"t":"a\u2028b\u0085c"}\n\n') == ['{"t":"a\u2028b\u0085c"}']


def test_comments_and_other_fields_are_skipped():
    assert decode(": ping\n\nevent: x\nid: 3\ndata: hello\n\n") == ["hello"]


def test_multiline_data_is_joined_and_one_space_dropped():
    assert decode("data:a\ndata:  b\n\n") == ["a\n b"]


def test_unterminated_last_event_is_kept_and_bom_dropped():
    assert decode("\ufeffdata: 1\n\ndata: 2") == ["1", "2"]


def test_crlf_split_between_reads_is_one_line_ending():
    assert decode("data: a\r", "\ndata: b\r\n\r\n") == ["a\nb"]


STREAM = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20),
        st.sampled_from(["\n", "\r\n", "\r"]),
    ),
    max_size=12,
).map(lambda events: "".join(f"data: {text}{end}{end}" for text, end in events))


@given(STREAM, st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_framing_does_not_depend_on_how_reads_split(stream, cuts):
    points = sorted({min(cut, len(stream)) for cut in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)])]
    assert decode(*pieces) == decode(stream)


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text):
    assert all(isinstance(event, str) for event in decode(text))
