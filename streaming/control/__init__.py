"""The control plane: routing, upstream profiles, client authentication, learned capabilities."""

from __future__ import annotations
