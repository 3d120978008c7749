import sys

from workers.telemetry.exposition import prepare_multiprocess

prepare_multiprocess(next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None))

from bot.cli.main import main  # noqa: E402  (after the metrics storage is chosen: prometheus_client reads it on import)

sys.exit(main())
