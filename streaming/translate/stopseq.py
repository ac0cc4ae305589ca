"""Gateway-side stop sequences (protocol.md C.5): the Responses API has no ``stop`` parameter.

One rule for both paths: the match that *ends* first wins (that is the one a token-by-token generator
would have stopped on); of matches ending at the same place, the longest. The text before the match is
kept, the match and everything after it are dropped. Sequences are matched within one text block, never
across blocks, never in tool arguments or thinking.

``find_stop`` serves the non-streaming path (``str.find``: linear, no extra memory); ``StopMatcher`` the
streaming one, holding back only the longest suffix that could still grow into a match (at most
``len(longest) - 1`` characters).

Cost: a client controls the sequences (up to the request body cap, megabytes) and the model can be
made to echo them, so nothing here is quadratic in a sequence's length. ``StopSequences`` is compiled
once per request and shared by every text part; it keeps, per sequence, a KMP prefix table (4 bytes per
character) that grows only as far as streamed text ever matched the sequence. A delta costs one
``str.find`` per sequence over the held text plus the delta; then, when the delta simply extends a
partial match, one C-level compare, else a KMP pass over the delta (at most its last
``len(sequence) - 1`` characters) that jumps with ``str.find`` to the sequence's first character
whenever nothing is partially matched, so ordinary text costs C-speed scans only.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable


def _clean(sequences: Iterable[str]) -> tuple[str, ...]:
    # Empty sequences would match everywhere; duplicates change nothing.
    return tuple(dict.fromkeys(s for s in sequences if s))


def find_stop(text: str, sequences: Iterable[str]) -> tuple[int, str] | None:
    """``(start, sequence)`` of the match that ends first in ``text``, or None."""
    best: tuple[int, int, str] | None = None  # (end, -length, sequence)
    for seq in _clean(sequences):
        start = text.find(seq)
        if start >= 0:
            candidate = (start + len(seq), -len(seq), seq)
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None
    end, neg_len, seq = best
    return end + neg_len, seq


def _fall(seq: str, table: array[int], state: int, char: str) -> int:
    """The KMP state after ``char`` when ``seq[state] != char``: 1 + the longest border that ``char`` extends.

    Borders are tried longest first down the prefix table. When ``seq[:state]`` repeats a period at least
    twice, the borders one period apart all compare the same character (Fine and Wilf), so that run is
    skipped in one step: ``"aaa...a"`` costs O(1) here, not O(state).
    """
    while state:  # invariant: seq[state] != char
        border = table[state - 1]
        if seq[border] == char:
            return border + 1
        period = state - border
        state = period + state % period if border >= period else border
    return 1 if seq[0] == char else 0


class StopSequences:
    """A request's stop sequences, compiled once and shared by the matchers of all its text parts."""

    __slots__ = ("_tables", "sequences")

    def __init__(self, sequences: Iterable[str]) -> None:
        self.sequences = _clean(sequences)
        # KMP prefix function per sequence: table[j] is the longest proper border of seq[: j + 1].
        self._tables = tuple(array("i", [0]) for _ in self.sequences)

    def __bool__(self) -> bool:
        return bool(self.sequences)

    def table_sizes(self) -> tuple[int, ...]:
        """How far each prefix table has grown (for tests bounding memory)."""
        return tuple(map(len, self._tables))

    def _grow(self, number: int, size: int) -> array[int]:
        """Extend sequence ``number``'s prefix table to ``size`` entries (the standard KMP recurrence)."""
        seq, table = self.sequences[number], self._tables[number]
        border = table[-1]
        for j in range(len(table), size):
            char = seq[j]
            border = border + 1 if seq[border] == char else _fall(seq, table, border, char)
            table.append(border)
        return table

    def advance(self, number: int, state: int, text: str) -> int:
        """The longest suffix of ``seq[:state] + text`` that is a proper prefix of sequence ``number``.

        The caller has checked that the sequence does not occur in that string.
        """
        seq = self.sequences[number]
        limit = len(seq) - 1
        if len(text) >= limit:  # a proper prefix fits in the last ``limit`` characters of ``text``
            state, text = 0, text[len(text) - limit :]
        elif state and seq.startswith(text, state):  # the partial match just goes on (one C compare)
            return state + len(text)
        table = self._tables[number]
        first = seq[0]
        position, end = 0, len(text)
        while position < end:
            if not state:  # nothing partially matched: jump to the next possible start
                position = text.find(first, position)
                if position < 0:
                    return 0
                state = 1
                position += 1
                continue
            char = text[position]
            if seq[state] == char:
                state += 1
            else:
                if state > len(table):
                    table = self._grow(number, state)
                state = _fall(seq, table, state, char)
            position += 1
        return state


class StopMatcher:
    """Streaming stop-sequence filter for one text block: ``feed(delta)`` -> (text to emit now, match).

    Held-back text is released as soon as it can no longer start a match; ``flush()`` at block end
    releases the rest (a partial match at the end of a block is not a match). Per sequence it keeps the
    length of the held suffix that is a prefix of that sequence (the KMP state).
    """

    __slots__ = ("_compiled", "_held", "_states")

    def __init__(self, sequences: StopSequences | Iterable[str]) -> None:
        """Pass the request's ``StopSequences`` so per-request work is done once, not per text part."""
        compiled = sequences if isinstance(sequences, StopSequences) else StopSequences(sequences)
        self._compiled = compiled
        self._states = [0] * len(compiled.sequences)
        self._held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """Text safe to emit, and the matched sequence (then the text is everything before it)."""
        held = self._held
        buffer = held + text
        states = self._states
        sequences = self._compiled.sequences
        best: tuple[int, int, str] | None = None  # (end, -length, sequence)
        for number, seq in enumerate(sequences):
            # The held text had no match, so a match ends in ``text`` and starts inside this
            # sequence's partial match at the latest (earlier starts would have been held as longer).
            start = buffer.find(seq, len(held) - states[number])
            if start >= 0:
                candidate = (start + len(seq), -len(seq), seq)
                if best is None or candidate < best:
                    best = candidate
        if best is not None:
            self._reset()
            end, neg_len, seq = best
            return buffer[: end + neg_len], seq
        hold = 0
        for number, state in enumerate(states):
            if state or sequences[number][0] in text:  # else nothing can start: the state stays 0
                state = states[number] = self._compiled.advance(number, state, text)
                if state > hold:
                    hold = state
        if hold:
            self._held = buffer[-hold:]
            return buffer[:-hold], None
        self._held = ""
        return buffer, None

    def flush(self) -> str:
        """The held-back text, at the end of the block."""
        held = self._held
        self._reset()
        return held

    def _reset(self) -> None:
        self._held = ""
        self._states = [0] * len(self._states)

    @property
    def held(self) -> str:
        return self._held
