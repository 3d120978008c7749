"""Operating chainscan: request ids, Prometheus metrics, the fleet's gauges read from Redis, log formats."""
