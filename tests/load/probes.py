"""What the load tests measure, read from outside the gateway: the kernel's view of its process, PostgreSQL's
own counters, the gateway's log and its Prometheus page. Nothing here needs a hook in the gateway.

- ``ProcessProbe``: resident memory and its peak, CPU time and threads (``bench/procfs.py``; the peak is
  reset through ``/proc/<pid>/clear_refs``), open file descriptors (``/proc/<pid>/fd``), and the process's
  TCP connections (its socket inodes matched against ``/proc/<pid>/net/tcp``).
- ``DatabaseProbe``: client-key lookups (statements reading ``streaming_clientkey``, counted by
  ``pg_stat_statements``), connections open now (``pg_stat_activity``) and ever opened
  (``pg_stat_database.sessions``).
- ``redis_connections``: connections Redis ever accepted (``INFO stats``).
- ``metric``: one sample from the gateway's ``GET /metrics`` (absent metrics read as None).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import procfs

_ESTABLISHED = "01"
_LISTEN = "0A"
MIB = 1024 * 1024


@dataclass(frozen=True)
class ProcessSample:
    rss: int  # bytes resident now
    peak_rss: int  # bytes resident at the peak since the last reset_peak()
    fds: int
    cpu: float  # seconds of CPU (user + system) since the process started
    threads: int


class ProcessProbe:
    """The kernel's figures for one process (the gateway: uvicorn with one worker serves in its own pid)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.proc = Path(f"/proc/{pid}")

    def sample(self) -> ProcessSample:
        return ProcessSample(
            rss=procfs.rss_kb(self.pid) * 1024,
            peak_rss=procfs.peak_rss_kb(self.pid) * 1024,
            fds=len(os.listdir(self.proc / "fd")),
            cpu=procfs.cpu_seconds(self.pid),
            threads=procfs.threads(self.pid),
        )

    def reset_peak(self) -> None:
        """Make VmHWM the current RSS again (Linux's ``clear_refs`` value 5), so a peak is per scenario."""
        (self.proc / "clear_refs").write_text("5")

    def _sockets(self) -> set[str]:
        inodes = set()
        for fd in os.listdir(self.proc / "fd"):
            try:
                target = os.readlink(self.proc / "fd" / fd)
            except FileNotFoundError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        return inodes

    def _established(self) -> list[tuple[int, int]]:
        """(local port, remote port) of this process's established TCP connections."""
        inodes = self._sockets()
        found = []
        for line in (self.proc / "net" / "tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _ESTABLISHED and fields[9] in inodes:
                found.append((int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)))
        return found

    def connections_to(self, port: int) -> int:
        """This process's established TCP connections whose far end is ``port`` (the upstream's)."""
        return sum(remote == port for _, remote in self._established())

    def connections_from_clients(self) -> int:
        """Established connections to this process's listening sockets (its clients')."""
        listening = {
            int(fields[1].rsplit(":", 1)[1], 16)
            for fields in (line.split() for line in (self.proc / "net" / "tcp").read_text().splitlines()[1:])
            if fields[3] == _LISTEN and fields[9] in self._sockets()
        }
        return sum(local in listening for local, _ in self._established())

    def settled(self, timeout: float = 5.0) -> ProcessSample:
        """A sample once the process has no client connection left and its fds stopped changing (the
        gateway closes its side of the connections a client closed), or after ``timeout``."""
        deadline = time.monotonic() + timeout
        previous = self.sample()
        while True:
            time.sleep(0.1)
            now = self.sample()
            quiet = now.fds == previous.fds and self.connections_from_clients() == 0
            if quiet or time.monotonic() > deadline:
                return now
            previous = now


class DatabaseProbe:
    """PostgreSQL's own counters for the gateway's database, read over one connection of the probe's own.

    Queries are counted by ``pg_stat_statements`` (updated as each statement ends); the server must load it
    (``tests/servers.py`` does).
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self.name = url.rsplit("/", 1)[1]
        self._connection = psycopg.connect(url, autocommit=True)  # each read its own snapshot
        self._connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def close(self) -> None:
        self._connection.close()

    def _one(self, query: str, *params: object) -> int:
        row = self._connection.execute(query, params).fetchone()  # type: ignore[call-overload]
        assert row is not None
        return int(row[0])

    def key_lookups(self) -> int:
        """Statements run so far that read the client-key table (the gateway's key lookups)."""
        return self._one(
            "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = %s AND s.query LIKE %s",
            self.name,
            'SELECT %FROM "streaming_clientkey"%',
        )

    def connections(self) -> int:
        """Connections open to the database now, the probe's own left out."""
        return self._one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", self.name
        )

    def sessions(self) -> int:
        """Connections ever opened to the database; one still open may be counted up to 10 s late (its
        backend reports when idle, at most once a second, else after PostgreSQL's idle interval)."""
        return self._one("SELECT sessions FROM pg_stat_database WHERE datname = %s", self.name)


def redis_connections(url: str) -> int:
    """Connections the Redis server at ``url`` has accepted since it started (this call's own included)."""
    import redis

    with redis.Redis.from_url(url) as client:
        return int(client.info("stats")["total_connections_received"])


def metric(base_url: str, token: str, name: str) -> float | None:
    """The sum of a metric's samples on the gateway's ``/metrics`` page (None when it has none)."""
    page = httpx.get(f"{base_url}/metrics", headers={"authorization": f"Bearer {token}"}, timeout=10)
    page.raise_for_status()
    values = [
        float(match.group(1))
        for match in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", page.text, re.MULTILINE)
    ]
    return sum(values) if values else None
