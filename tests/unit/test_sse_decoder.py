"""SSEDecoder follows the WHATWG event-stream rules on any chunking (streaming/transport/sse_decoder.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from streaming.transport.sse_decoder import SSEDecoder, SSEEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UPSTREAM_FIXTURES = sorted(p for p in FIXTURES.glob("*.sse") if not p.name.endswith(".anthropic.sse"))
ANTHROPIC_FIXTURES = sorted(FIXTURES.glob("*.anthropic.sse"))


def decode(*chunks: bytes, decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    decoder = decoder or SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.flush()


def in_random_chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    chunks, at = [], 0
    while at < len(data):
        size = rng.randint(1, 7)
        chunks.append(data[at : at + size])
        at += size
    return chunks


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(b'event: a\ndata: {"x":1}\n\n', [{"event": "a", "data": {"x": 1}}], id="named-json"),
        pytest.param(b"data: 1\n\n", [{"event": "message", "data": 1}], id="name-defaults-to-message"),
        pytest.param(b"event:\ndata: x\n\n", [{"event": "message", "data": "x"}], id="empty-name-is-message"),
        pytest.param(b"data: not json\n\n", [{"event": "message", "data": "not json"}], id="raw-text"),
        pytest.param(
            b'data: {"a":\ndata: 1}\n\n', [{"event": "message", "data": {"a": 1}}], id="data-lines-join"
        ),
        pytest.param(
            b"data: a\ndata: b\n\n", [{"event": "message", "data": "a\nb"}], id="joined-with-newline"
        ),
        pytest.param(b"data:x\n\n", [{"event": "message", "data": "x"}], id="no-space-after-colon"),
        pytest.param(b"data:  x\n\n", [{"event": "message", "data": " x"}], id="only-one-space-stripped"),
        pytest.param(b"data: a:b\n\n", [{"event": "message", "data": "a:b"}], id="colon-in-value"),
        pytest.param(b"data\n\n", [{"event": "message", "data": ""}], id="field-without-colon"),
        pytest.param(b": keepalive\n\n", [], id="comment-dispatches-nothing"),
        pytest.param(b"event: a\ndata: 1\n: hi\n\n", [{"event": "a", "data": 1}], id="comment-inside-event"),
        pytest.param(b"event: a\n\n", [], id="event-without-data-not-dispatched"),
        pytest.param(b"event: a\n\ndata: 1\n\n", [{"event": "message", "data": 1}], id="name-reset-by-blank"),
        pytest.param(b"id: 7\nretry: 10\ndata: 1\n\n", [{"event": "message", "data": 1}], id="id-and-retry"),
        pytest.param(b"foo: bar\ndata: 1\n\n", [{"event": "message", "data": 1}], id="unknown-field"),
        pytest.param(b"data: [DONE]\n\n", [{"event": "message", "data": "[DONE]"}], id="done-marker"),
        pytest.param(b"event: ping\ndata: {}\n\n", [{"event": "ping", "data": {}}], id="ping-is-yielded"),
        pytest.param(b"\n\n\n", [], id="blank-lines-only"),
        pytest.param(b"data: 1\r\n\r\n", [{"event": "message", "data": 1}], id="crlf"),
        pytest.param(
            b"data: 1\r\rdata: 2\r\r",
            [{"event": "message", "data": 1}, {"event": "message", "data": 2}],
            id="cr",
        ),
        pytest.param(
            b"data: 1\r\n\ndata: 2\r\r\n",
            [{"event": "message", "data": 1}, {"event": "message", "data": 2}],
            id="mixed",
        ),
        pytest.param(b"\xef\xbb\xbfdata: 1\n\n", [{"event": "message", "data": 1}], id="leading-bom"),
        pytest.param('data: "Grüße 👋"\n\n'.encode(), [{"event": "message", "data": "Grüße 👋"}], id="utf8"),
        pytest.param(b'data: "\\u2028"\n\n', [{"event": "message", "data": "\u2028"}], id="u2028-escape"),
        pytest.param(
            "data: a\u2028b\n\n".encode(),
            [{"event": "message", "data": "a\u2028b"}],
            id="u2028-is-not-a-line-end",
        ),
        pytest.param(b"data: \xff\n\n", [{"event": "message", "data": "\ufffd"}], id="invalid-utf8-replaced"),
    ],
)
def test_whole_stream(stream: bytes, expected: list[SSEEvent]) -> None:
    assert decode(stream) == expected


AWKWARD = 'event: t\r\ndata: {"text":"Grüße 👋🏽"}\r\n\r\n: ka\rdata: a\rdata: b\r\revent: u\ndata: [DONE]\n\n'.encode()
AWKWARD_EVENTS = [
    {"event": "t", "data": {"text": "Grüße 👋🏽"}},
    {"event": "message", "data": "a\nb"},
    {"event": "u", "data": "[DONE]"},
]


@pytest.mark.parametrize("split_at", range(1, len(AWKWARD)))
def test_stream_split_at_any_byte_decodes_the_same(split_at: int) -> None:
    """Covers splits inside multi-byte characters, between \\r and \\n, and mid-line."""
    assert decode(AWKWARD[:split_at], AWKWARD[split_at:]) == AWKWARD_EVENTS


def test_stream_fed_one_byte_at_a_time_decodes_the_same() -> None:
    assert decode(*(AWKWARD[i : i + 1] for i in range(len(AWKWARD)))) == AWKWARD_EVENTS


def test_event_split_inside_utf8_character_over_three_chunks_is_rejoined() -> None:
    emoji = "👋".encode()
    assert decode(b'data: "' + emoji[:1], emoji[1:3], emoji[3:] + b'"\n\n') == [
        {"event": "message", "data": "👋"}
    ]


def test_cr_at_chunk_end_then_lf_is_one_line_end() -> None:
    """Otherwise the \\n would be read as a blank line and dispatch the event early."""
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [{"event": "message", "data": "a\nb"}]


@pytest.mark.parametrize("field", [b"data: ", b"event: x\ndata: "], ids=["data-only", "named"])
def test_data_nested_too_deep_for_the_json_parser_is_kept_as_text(field: bytes) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000

    (event,) = decode(field + deep + b"\n\n")

    assert event["data"] == deep.decode()


def test_events_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: 1\n\ndata: 2\n") == [{"event": "message", "data": 1}]
    assert decoder.feed(b"\n") == [{"event": "message", "data": 2}]


@pytest.mark.parametrize(
    ("stream", "truncated"),
    [
        (b"data: 1\n\n", False),
        (b"data: 1\n\n: keepalive\n", False),
        (b"data: 1\n\n: keepalive", False),
        (b"data: 1\n\ndata: 2\n", True),
        (b"data: 1\n\ndata: 2", True),
        (b"data: 1\n\nevent: x\n", True),
    ],
)
def test_flush_drops_an_unterminated_event_and_reports_it(stream: bytes, truncated: bool) -> None:
    decoder = SSEDecoder()
    decoder.feed(stream)

    assert decoder.pending is truncated
    assert decoder.flush() == []
    assert decoder.truncated is truncated


@pytest.mark.parametrize("fixture", UPSTREAM_FIXTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_upstream_fixture_events_are_numbered_and_named_by_their_type(
    fixture: Path, seed: int | None
) -> None:
    data = fixture.read_bytes()
    decoder = SSEDecoder()

    chunks = [data] if seed is None else in_random_chunks(data, seed)

    events = decode(*chunks, decoder=decoder)

    assert [event["data"]["sequence_number"] for event in events] == list(range(len(events)))
    named = [event for event in events if event["event"] != "message"]
    assert all(event["event"] == event["data"]["type"] for event in named)
    assert not decoder.truncated


@pytest.mark.parametrize("fixture", ANTHROPIC_FIXTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [None, 1, 2])
def test_anthropic_fixture_events_are_named_by_their_type(fixture: Path, seed: int | None) -> None:
    data = fixture.read_bytes()

    events = decode(data) if seed is None else decode(*in_random_chunks(data, seed))

    assert events
    assert all(event["event"] == event["data"]["type"] for event in events)


def test_upstream_fixtures_are_all_named_except_the_data_only_event() -> None:
    unnamed = {
        (fixture.name, index)
        for fixture in UPSTREAM_FIXTURES
        for index, event in enumerate(decode(fixture.read_bytes()), start=1)
        if event["event"] == "message"
    }

    assert unnamed == {("keepalive_and_multiline.sse", 5)}


def test_keepalive_and_multiline_fixture_parses_as_its_readme_says() -> None:
    events = decode((FIXTURES / "keepalive_and_multiline.sse").read_bytes())

    assert len(events) == 11
    assert events[4] == {"event": "message", "data": events[4]["data"]}
    assert events[4]["data"]["delta"] == "Hi"
    assert events[5]["data"]["delta"] == " there"
    assert events[7]["data"]["text"] == "Hi there!"


@pytest.mark.parametrize("seed", range(5))
def test_unicode_fixture_deltas_survive_any_chunking(seed: int) -> None:
    data = (FIXTURES / "unicode.sse").read_bytes()

    events = decode(*in_random_chunks(data, seed))

    text = "".join(e["data"]["delta"] for e in events if e["data"]["type"] == "response.output_text.delta")
    assert text == "Grüße aus Zürich — 你好，世界！ 👋🏽 café 🇨🇭\n"  # noqa: RUF001 (the fixture's fullwidth punctuation)


@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"response.output_text.delta","delta":"caf\\u00e9 \xe2\x98\x95","output_index":0}',
        b'{"value": NaN, "other": -Infinity}',
        b'{"text": "\\ud800 lone surrogate"}',
        b'{"big": 123456789012345678901234567890, "edge": 18446744073709551616}',
        b'{"float": 1e999}',
        b"[" * 100_000 + b"]" * 100_000,
        b"not json at all",
        b"\xff\xfe broken utf-8",
    ],
    ids=["plain", "nan", "surrogate", "big-int", "overflow", "deep", "text", "bad-utf8"],
)
def test_orjson_reads_what_json_read_exactly_the_same(data: bytes) -> None:
    """orjson is only a faster reader: wherever it refuses or would read differently, json decides."""
    try:
        expected: Any = json.loads(data)
    except (ValueError, RecursionError):
        expected = data.decode("utf-8", "replace")

    [event] = decode(b"data: " + data + b"\n\n")

    assert repr(event["data"]) == repr(expected)  # repr: NaN != NaN, and ints must stay ints
