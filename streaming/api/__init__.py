"""The HTTP edge: thin async views, body parsing, error envelopes, the stream relay, ASGI guards."""

from __future__ import annotations
