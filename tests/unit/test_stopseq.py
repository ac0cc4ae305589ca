"""Gateway-side stop sequences (protocol.md C.5): one rule for whole text and for streamed deltas."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.translate.stopseq import StopMatcher, find_stop


@pytest.mark.parametrize(
    ("text", "sequences", "expected"),
    [
        ("hello world", ("world",), (6, "world")),
        ("hello world", ("xyz",), None),
        ("hello", (), None),
        ("hello", ("",), None),
        ("END at the start", ("END",), (0, "END")),
        ("text ends with END", ("END",), (15, "END")),
        ("a STOP b HALT", ("HALT", "STOP"), (2, "STOP")),
        ("abcd", ("abcd", "bc"), (1, "bc")),  # the match that ends first wins
        ("xabc", ("abc", "bc"), (1, "abc")),  # same end: the longest
        ("Grüße 👋🏽 und 🇨🇭", ("🇨🇭",), (13, "🇨🇭")),
        ("first STOP then STOP", ("STOP",), (6, "STOP")),
    ],
)
def test_find_stop_returns_the_match_that_ends_first(
    text: str, sequences: tuple[str, ...], expected: tuple[int, str] | None
) -> None:
    assert find_stop(text, sequences) == expected


def feed_all(sequences: tuple[str, ...], deltas: list[str]) -> tuple[list[str], str | None, str]:
    """(text emitted per delta, match, text flushed at block end)."""
    matcher = StopMatcher(sequences)
    emitted: list[str] = []
    for delta in deltas:
        text, match = matcher.feed(delta)
        emitted.append(text)
        if match is not None:
            return emitted, match, ""
    return emitted, None, matcher.flush()


@pytest.mark.parametrize(
    ("sequences", "deltas", "emitted", "match", "flushed"),
    [
        pytest.param(("STOP",), ["one STOP two"], ["one "], "STOP", "", id="inside-a-delta"),
        pytest.param(("STOP",), ["one S", "TO", "P two"], ["one ", "", ""], "STOP", "", id="across-deltas"),
        pytest.param(("STOP",), ["one ", "STOP"], ["one ", ""], "STOP", "", id="at-the-end"),
        pytest.param(("STOP",), ["one ST", "ART"], ["one ", "START"], None, "", id="partial-then-no-match"),
        pytest.param(("STOP",), ["one ST"], ["one "], None, "ST", id="partial-at-block-end"),
        pytest.param(("\n\nHuman:", "###"), ["a\n\nHu", "man: b"], ["a", ""], "\n\nHuman:", "", id="several"),
        pytest.param(("abcd", "bc"), ["ab", "cd"], ["", "a"], "bc", "", id="earliest-end-wins"),
        pytest.param(("👋🏽",), ["hi 👋", "🏽 there"], ["hi ", ""], "👋🏽", "", id="multi-byte"),
        pytest.param(("STOP",), ["no match here"], ["no match here"], None, "", id="nothing-held"),
        pytest.param(("aaa",), ["aa", "ba"], ["", "aab"], None, "a", id="overlapping-prefixes"),
    ],
)
def test_matcher_emits_text_before_the_match_and_holds_back_only_possible_prefixes(
    sequences: tuple[str, ...], deltas: list[str], emitted: list[str], match: str | None, flushed: str
) -> None:
    assert feed_all(sequences, deltas) == (emitted, match, flushed)


@given(
    text=st.text(alphabet="abST ÖP👋", max_size=60),
    sequences=st.lists(st.text(alphabet="abST ÖP👋", min_size=1, max_size=4), min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=10),
)
def test_streamed_result_equals_the_whole_text_result(
    text: str, sequences: list[str], cuts: list[int]
) -> None:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    deltas = [text[a:b] for a, b in itertools.pairwise(points)]

    emitted, match, flushed = feed_all(tuple(sequences), deltas)

    found = find_stop(text, sequences)
    if found is None:
        assert (match, "".join(emitted) + flushed) == (None, text)
    else:
        assert (match, "".join(emitted)) == (found[1], text[: found[0]])


@given(
    deltas=st.lists(st.text(alphabet="xyzSTOP", max_size=8), max_size=12),
    sequences=st.lists(st.text(alphabet="xyzSTOP", min_size=1, max_size=6), min_size=1, max_size=3),
)
def test_held_back_text_is_never_longer_than_the_longest_sequence_minus_one(
    deltas: list[str], sequences: list[str]
) -> None:
    matcher = StopMatcher(sequences)
    for delta in deltas:
        _, match = matcher.feed(delta)
        if match is not None:
            break
        assert len(matcher.held) <= max(map(len, sequences)) - 1
        assert not matcher.held or any(s.startswith(matcher.held) for s in sequences)
