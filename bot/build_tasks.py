"""Old home of the build-thread jobs, kept for one release (see :mod:`bot.tasks`). New code imports
:mod:`bot.jobs.build_thread`."""

from bot.jobs.build_thread import open_build_thread, publish_build_thread  # noqa: F401
from bot.jobs.publishing import open_failed, publish_failed  # noqa: F401
