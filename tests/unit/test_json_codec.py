"""orjson where it answers as json would, json where it does not: the gateway's JSON stays what it was."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming import json_codec
from streaming.json_codec import dumps, dumps_ascii_fallback, loads, loads_client

ODD = [
    b'{"a": NaN, "b": -Infinity}',
    b'{"text": "\\ud800 alone"}',
    b'{"pair": "\\ud83d\\ude00"}',
    b'{"big": 123456789012345678901234567890, "edge": 18446744073709551616, "ok": 9007199254740993}',
    b'{"float": 1e999, "tiny": 5e-324}',
    b"[" * 300 + b"]" * 300,
]


@pytest.mark.parametrize("raw", ODD)
def test_loads_reads_odd_input_exactly_as_json_does(raw: bytes) -> None:
    assert repr(loads(raw)) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"x": 1e999}', b"{broken"])
def test_a_client_body_refuses_what_json_refused_with_its_message(raw: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        loads_client(raw)

    assert str(caught.value)


def test_a_client_body_says_when_it_may_hold_a_lone_surrogate() -> None:
    assert loads_client(b'{"text": "\\ud800"}') == ({"text": "\ud800"}, True)
    assert loads_client(b'{"text": "caf\\u00e9"}') == ({"text": "café"}, False)


def test_huge_integers_in_a_client_body_stay_integers() -> None:
    assert loads_client(b'{"max_tokens": 1000000000000000000000000000000}')[0] == {"max_tokens": 10**30}


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
))  # fmt: skip
def test_dumps_writes_what_json_reads_back_identically(value: Any) -> None:
    try:
        encoded = dumps(value)
    except UnicodeEncodeError:  # a lone surrogate: json refuses it the same way
        with pytest.raises(UnicodeEncodeError):
            json.dumps(value, ensure_ascii=False).encode()
        return
    assert json.loads(encoded) == value


def test_dumps_writes_non_ascii_raw_and_compact() -> None:
    assert dumps({"text": "café ☕", "n": [1, 2]}) == '{"text":"café ☕","n":[1,2]}'.encode()


def test_a_lone_surrogate_falls_back_to_an_ascii_escape() -> None:
    assert dumps_ascii_fallback({"text": "\ud800"}) == b'{"text":"\\ud800"}'


def test_deep_nesting_beyond_orjson_is_still_written() -> None:
    nested: Any = []
    for _ in range(400):
        nested = [nested]

    assert json.loads(dumps(nested)) == nested


@given(st.binary(max_size=200) | st.from_regex(rb"[a0-9 ,:\[\]{}.eE+-]{0,80}", fullmatch=True))
def test_the_long_integer_check_finds_exactly_what_the_regex_finds(raw: bytes) -> None:
    """``json`` reads a run of 19+ digits (maybe an integer past 64 bits, a float to orjson) exactly."""
    assert json_codec._may_hold_long_integer(raw) == bool(re.search(rb"[0-9]{19}", raw))


@pytest.mark.parametrize("digits", [18, 19, 20])
def test_a_run_of_19_digits_or_more_is_read_by_json(digits: int) -> None:
    raw = b'{"n": 1' + b"2" * (digits - 1) + b"}"

    assert json_codec._may_hold_long_integer(raw) == (digits >= 19)
    assert json_codec.loads(raw) == json.loads(raw)
