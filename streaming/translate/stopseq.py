"""Gateway-side stop sequences (protocol.md C.5): the Responses API has no ``stop`` parameter.

One rule for both paths: the match that *ends* first wins (that is the one a token-by-token generator
would have stopped on); of matches ending at the same place, the longest. The text before the match is
kept, the match and everything after it are dropped. Sequences are matched within one text block, never
across blocks, never in tool arguments or thinking.

``find_stop`` serves the non-streaming path; ``StopMatcher`` the streaming one, holding back only the
longest suffix that could still grow into a match (at most ``len(longest) - 1`` characters).
"""

from __future__ import annotations

from collections.abc import Iterable


def _clean(sequences: Iterable[str]) -> tuple[str, ...]:
    # Empty sequences would match everywhere; duplicates change nothing.
    return tuple(dict.fromkeys(s for s in sequences if s))


def find_stop(text: str, sequences: Iterable[str]) -> tuple[int, str] | None:
    """``(start, sequence)`` of the match that ends first in ``text``, or None."""
    return _find(text, _clean(sequences))


def _find(text: str, sequences: tuple[str, ...]) -> tuple[int, str] | None:
    best: tuple[int, int, str] | None = None  # (end, -length, sequence)
    for seq in sequences:
        start = text.find(seq)
        if start >= 0:
            candidate = (start + len(seq), -len(seq), seq)
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None
    end, neg_len, seq = best
    return end + neg_len, seq


class StopMatcher:
    """Streaming stop-sequence filter for one text block: ``feed(delta)`` -> (text to emit now, match).

    Held-back text is released as soon as it can no longer start a match; ``flush()`` at block end
    releases the rest (a partial match at the end of a block is not a match).
    """

    __slots__ = ("_held", "_longest_hold", "_prefixes", "_sequences")

    def __init__(self, sequences: Iterable[str]) -> None:
        self._sequences = _clean(sequences)
        self._prefixes = frozenset(s[:i] for s in self._sequences for i in range(1, len(s)))
        self._longest_hold = max((len(s) - 1 for s in self._sequences), default=0)
        self._held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """Text safe to emit, and the matched sequence (then the text is everything before it)."""
        buffer = self._held + text
        match = _find(buffer, self._sequences)
        if match is not None:
            self._held = ""
            start, seq = match
            return buffer[:start], seq
        hold = min(self._longest_hold, len(buffer))
        while hold and buffer[-hold:] not in self._prefixes:
            hold -= 1
        if hold:
            self._held = buffer[-hold:]
            return buffer[:-hold], None
        self._held = ""
        return buffer, None

    def flush(self) -> str:
        """The held-back text, at the end of the block."""
        held, self._held = self._held, ""
        return held

    @property
    def held(self) -> str:
        return self._held
