"""One redaction for every upstream text a client may see (streaming/redaction.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.redaction import MAX_CHARS, redact


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("key sk-abcdefghijklmnop1234 here", (), "key [redacted] here"),
        ("project key sk-proj-AbC_dEf-1234567890xyz", (), "project key [redacted]"),
        ("key sk-proj-AbC_123-xyz here", (), "key [redacted] here"),
        ("Incorrect API key provided: sk-abc***wxyz.", (), "Incorrect API key provided: [redacted]."),
        ("glued mysk-abcdefghijklmnop1234", (), "glued my[redacted]"),
        ("org org-ABCdef123456 denied", (), "org [redacted] denied"),
        ("project proj_AbCdEf123456", (), "project [redacted]"),
        ("request req_0123456789abcdef failed", (), "request [redacted] failed"),
        ("Authorization: Bearer abc.def.ghi-123", (), "Authorization: [redacted]"),
        ("authorization: bearer abc.def.ghi-123", (), "authorization: [redacted]"),
        ("token my-local-token!", ("my-local-token",), "token [redacted]!"),
        ("short sk-abc stays", (), "short sk-abc stays"),
        ("a task-force or a disk-backup stays", (), "a task-force or a disk-backup stays"),
        ("nothing secret", (None, ""), "nothing secret"),
    ],
)
def test_redact_removes_secrets_keys_and_ids(
    text: str, secrets: tuple[str | None, ...], expected: str
) -> None:
    assert redact(text, secrets) == expected


def test_secret_that_overlaps_a_key_pattern_leaves_nothing_behind() -> None:
    """A pattern match must not eat the start of a literal secret and leave its tail in the text."""
    secret = "sk-abcd!tail-of-the-key"

    assert redact(f"got {secret}.", (secret,)) == "got [redacted]."


def test_longer_secret_wins_over_a_secret_it_contains() -> None:
    assert redact("token local-proxy-token-42", ("local", "local-proxy-token-42")) == "token [redacted]"


def test_long_text_is_capped_and_marked() -> None:
    capped = redact("x" * 10_000)

    assert len(capped) == MAX_CHARS + 1 and capped.endswith("…")


def test_key_at_the_cap_is_redacted_before_cutting() -> None:
    key = "sk-" + "A" * 40
    text = "x" * (MAX_CHARS - 10) + key

    assert "AAAA" not in redact(text)


@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_configured_secret_never_survives(prefix: str, suffix: str) -> None:
    secret = "upstream-secret-42"

    assert secret not in redact(prefix + secret + suffix, (secret,))
