"""Bolt listeners, one module per concept, each with ``register(app, ctx)``."""
