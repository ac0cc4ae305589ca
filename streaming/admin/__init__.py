"""The gateway's Django admin: upstreams, model routes, client keys and usage.

One module per model (each registers its ``ModelAdmin``), plus ``probe`` (test connection) and ``charts``
(the usage page's SVG, pure). ``docs/admin.md`` walks an operator through it.
"""

from __future__ import annotations

from streaming.admin import client_keys, routes, upstreams, usage

__all__ = ["client_keys", "routes", "upstreams", "usage"]
