"""Old home of the scan-thread jobs, kept for one release: RQ stores job functions by dotted path,
so jobs queued before a deploy (``bot.tasks.open_thread`` …) still run after it. New code imports
:mod:`bot.jobs.scan_thread` and :mod:`bot.jobs.publishing`."""

from bot.jobs.publishing import open_failed, publish_failed  # noqa: F401
from bot.jobs.scan_thread import (  # noqa: F401
    close_stale_thread,
    open_thread,
    publish_thread,
    scan_progress,
)
