"""Reading the routing file, with the last good one kept in force. I/O: the file and one Redis key.

The file is read again when it changes (its modification time and size). A file that does not parse leaves the
last good one in force, in this process and, through Redis, in every process started after it; the problem is
one sentence naming the line (:attr:`RoutingFile.problem`), logged once per change and shown by ``owners show``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from redis import Redis

from workers.owners.routes import OwnersFileError, Routes, parse_routes

log = logging.getLogger(__name__)

LAST_GOOD = "chainscan:owners:last-good"
MAX_BYTES = 1024 * 1024


class RoutingFile:
    def __init__(self, path: Path | None, redis: Redis | None = None):
        self.path = path
        self.redis = redis
        self.problem: str | None = None
        self._stamp: tuple | None = None
        self._routes: Routes | None = None

    def routes(self) -> Routes:
        """The routes in force: the file's, or the last good ones while it is bad; none without a file."""
        if self.path is None:
            return Routes()
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            return self._keep(f"The routing file {self.path} cannot be read: {exc.strerror}.", None)
        if stamp == self._stamp and self._routes is not None:
            return self._routes
        try:
            text = self._read()
            routes = parse_routes(text)
        except OwnersFileError as exc:
            return self._keep(f"{exc} The last good routing file stays in force.", stamp)
        self._stamp, self._routes, self.problem = stamp, routes, None
        if self.redis is not None:
            self.redis.set(LAST_GOOD, text)
        return routes

    def _read(self) -> str:
        data = self.path.read_bytes()[: MAX_BYTES + 1]
        if len(data) > MAX_BYTES:
            raise OwnersFileError(None, f"it is larger than {MAX_BYTES // 1024} KB.")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise OwnersFileError(None, "it is not UTF-8 text.") from None

    def _keep(self, problem: str, stamp: tuple | None) -> Routes:
        if problem != self.problem:
            log.error("owners: %s", problem)
        self.problem, self._stamp = problem, stamp
        if self._routes is None:
            self._routes = self._stored()
        return self._routes

    def _stored(self) -> Routes:
        raw = self.redis.get(LAST_GOOD) if self.redis is not None else None
        if not raw:
            return Routes()
        try:
            return parse_routes(raw.decode() if isinstance(raw, bytes) else raw)
        except OwnersFileError:
            return Routes()
