"""Outbound SSE frames: exact bytes, compact raw-UTF-8 JSON, one data line, fast delta path identical."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from streaming.translate.frames import MESSAGE_STOP, PING, delta_prefix, encode_delta, encode_event


def test_frame_is_event_line_data_line_and_blank_line() -> None:
    assert (
        encode_event("message_stop", {"type": "message_stop"})
        == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


def test_constant_frames() -> None:
    assert PING == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert MESSAGE_STOP == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def test_text_is_written_as_raw_utf8_not_escaped() -> None:
    frame = encode_event("x", {"text": "Grüße 你好 👋🏽"})

    assert "Grüße 你好 👋🏽".encode() in frame


def test_line_breaks_in_values_never_break_the_data_line() -> None:
    frame = encode_event("x", {"text": "a\nb\rc\r\nd\u2028e"})

    assert frame.count(b"\n") == 3 and b"\r" not in frame
    assert json.loads(frame.split(b"\n")[1].removeprefix(b"data: "))["text"] == "a\nb\rc\r\nd\u2028e"


def test_lone_surrogate_is_escaped_instead_of_failing() -> None:
    frame = encode_event("x", {"text": "bad \ud83d here"})
    delta = encode_delta(delta_prefix(0, "text_delta", "text"), "bad \ud83d here")

    assert json.loads(frame.split(b"\n")[1].removeprefix(b"data: "))["text"] == "bad \ud83d here"
    assert json.loads(delta.split(b"\n")[1].removeprefix(b"data: "))["delta"]["text"] == "bad \ud83d here"


@given(
    index=st.integers(min_value=0, max_value=10_000),
    kind=st.sampled_from(
        [
            ("text_delta", "text"),
            ("input_json_delta", "partial_json"),
            ("thinking_delta", "thinking"),
            ("signature_delta", "signature"),
        ]
    ),
    value=st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
)
def test_fast_delta_frame_equals_the_generic_encoding(index: int, kind: tuple[str, str], value: str) -> None:
    delta_type, field = kind
    generic = encode_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, field: value}},
    )

    assert encode_delta(delta_prefix(index, delta_type, field), value) == generic
