"""The one redaction applied to upstream text before a client sees it (protocol.md C.7). Pure.

Upstream error messages echo credentials (OpenAI's "Incorrect API key provided: sk-abc***wxyz"), and
compatible servers echo whatever they were sent. ``redact`` removes, in one pass: the configured
secrets as literals (the upstream key need not look like an OpenAI key), OpenAI keys (also masked
ones), organization and project ids, request ids and bearer tokens; then caps the length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_CHARS", "REDACTED", "redact"]

REDACTED = "[redacted]"
MAX_CHARS = 2000
"""Longer text is cut here (after redaction, so no key is cut in half and missed) and ends in "…"."""

_PATTERNS = (
    r"\bsk-[A-Za-z0-9_*\-]{4,}",  # OpenAI keys, also as OpenAI masks them (sk-abc***wxyz)
    r"sk-[A-Za-z0-9_\-]{16,}",  # ...and glued to a preceding word when long enough to be one
    r"\b(?:org|proj)[-_][A-Za-z0-9]{6,}",  # organization / project ids
    r"org-[A-Za-z0-9]{8,}",
    r"\breq_[A-Za-z0-9]{8,}",  # upstream request ids
    r"\b(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}",  # bearer tokens
)
_PATTERN = re.compile("|".join(_PATTERNS))


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the given secrets or anything shaped like a key or an id, capped in length.

    One pass over one alternation (literals first, longest first), so a secret that contains, or is
    contained in, another match cannot leave part of itself behind.
    """
    literals = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
    pattern = re.compile("|".join([*map(re.escape, literals), *_PATTERNS])) if literals else _PATTERN
    text = pattern.sub(REDACTED, text)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "…"
    return text
