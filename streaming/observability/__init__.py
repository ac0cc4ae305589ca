"""What the gateway tells an operator: one log line per request, and Prometheus metrics.

Both are outcome sinks (``streaming.outcome``): they read a completed request's record and never make a
request wait.
"""

from __future__ import annotations
