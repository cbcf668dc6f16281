"""Request bodies encoded a message at a time: the same JSON as encoding the whole at once."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mistral_magic.body import JSONBody

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
messages = st.lists(st.dictionaries(st.sampled_from(["role", "content", "prefix", "tool_calls"]), values),
                    max_size=5)


@given(st.dictionaries(st.text(max_size=8), values, max_size=4), st.one_of(st.none(), messages))
def test_pieces_join_to_the_payload_and_len_counts_their_bytes(options: dict[str, Any], history: Any) -> None:
    payload = {**options, **({"messages": history} if history is not None else {})}
    body = JSONBody(payload)
    sent = b"".join(body)
    assert json.loads(sent) == payload and list(json.loads(sent)) == list(payload)  # fields in order
    assert len(body) == len(sent) and b"".join(body) == sent  # the same again, for a retry
