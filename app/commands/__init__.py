"""One module per ``thermorig`` sub-command; each exposes ``register(subparsers)``."""
