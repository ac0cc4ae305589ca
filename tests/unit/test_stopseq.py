"""Gateway-side stop sequences (protocol.md C.5): one rule for whole text and for streamed deltas."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.translate.stopseq import StopMatcher, StopSequences, find_stop


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


def longest_possible_prefix(text: str, sequences: list[str]) -> str:
    """The reference hold-back: the longest suffix of ``text`` that is a proper prefix of a sequence."""
    for hold in range(len(text), 0, -1):
        if any(len(s) > hold and s.startswith(text[-hold:]) for s in sequences):
            return text[-hold:]
    return ""


# Repeated units make long chains of borders (the cases the matcher's period skip short-cuts).
periodic = st.builds(
    lambda unit, times, tail: unit * times + tail,
    st.text(alphabet="ab", min_size=1, max_size=3),
    st.integers(min_value=1, max_value=8),
    st.text(alphabet="ab", max_size=2),
)


@given(
    deltas=st.lists(st.text(alphabet="ab", max_size=9), max_size=12),
    sequences=st.lists(
        st.one_of(st.text(alphabet="ab", min_size=1, max_size=7), periodic), min_size=1, max_size=3
    ),
)
def test_held_back_text_is_the_longest_suffix_that_could_still_grow_into_a_match(
    deltas: list[str], sequences: list[str]
) -> None:
    matcher = StopMatcher(sequences)
    streamed = ""
    for delta in deltas:
        streamed += delta
        _, match = matcher.feed(delta)
        if match is not None:
            break
        assert matcher.held == longest_possible_prefix(streamed, sequences)


def test_matchers_sharing_compiled_sequences_keep_their_own_partial_matches() -> None:
    compiled = StopSequences(["STOP"])
    first, second = StopMatcher(compiled), StopMatcher(compiled)

    assert first.feed("a ST") == ("a ", None)
    assert second.feed("b S") == ("b ", None)
    assert first.feed("OP") == ("", "STOP")
    assert second.feed("ALE") == ("SALE", None)


HUGE = 100_000
MEMORY_BOUND = 10 * 1024 * 1024  # bytes; the old prefix set needed gigabytes for a sequence this long


def peak_memory(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def feed_in_chunks(matcher: StopMatcher, text: str, size: int) -> list[tuple[str, str | None]]:
    return [matcher.feed(text[i : i + size]) for i in range(0, len(text), size)]


def test_a_huge_stop_sequence_streamed_in_many_deltas_is_matched_in_bounded_memory() -> None:
    sequence = "a" * HUGE
    matcher = StopMatcher([sequence])

    def work() -> None:
        results = feed_in_chunks(matcher, "x" + sequence, 997)
        assert results[-1] == ("", sequence)

    assert peak_memory(work) < MEMORY_BOUND


def test_a_huge_stop_sequence_that_almost_matches_is_released_in_bounded_memory() -> None:
    # Long partial matches that fail late: the worst case for checking each possible hold-back length.
    sequence = "a" * (HUGE // 2) + "b" * (HUGE // 2)
    text = "a" * (HUGE // 2) + "b" * (HUGE // 4) + "c" + "a" * (HUGE // 2)
    matcher = StopMatcher([sequence])
    emitted: list[str] = []

    def work() -> None:
        emitted.extend(text for text, _ in feed_in_chunks(matcher, text, 499))

    assert peak_memory(work) < MEMORY_BOUND
    assert "".join(emitted) + matcher.flush() == text


def test_a_prefix_table_grows_only_as_far_as_the_text_matched_its_sequence() -> None:
    compiled = StopSequences(["ab" * (HUGE // 2)])

    feed_in_chunks(StopMatcher(compiled), ("ab" * 1000 + "c") * 50, 101)

    assert compiled.table_sizes() == (2000,)


def test_ordinary_text_grows_no_prefix_table_for_a_huge_sequence() -> None:
    compiled = StopSequences(["z" * HUGE])

    feed_in_chunks(StopMatcher(compiled), "plain text without the letter " * 1000, 64)

    assert compiled.table_sizes() == (1,)


def test_find_stop_on_a_huge_sequence_and_text_uses_bounded_memory() -> None:
    sequence = "a" * HUGE
    text = ("a" * (HUGE - 1) + "b") * 3 + sequence

    assert peak_memory(lambda: find_stop(text, [sequence])) < MEMORY_BOUND
    assert find_stop(text, [sequence]) == (3 * HUGE, sequence)
