"""System checks for the gateway's settings (ids ``streaming.E0xx`` / ``streaming.W0xx``, stable forever)."""

from __future__ import annotations
