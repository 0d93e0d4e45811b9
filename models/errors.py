"""The one error the models package raises for anything a user brought or named."""

from drivers.errors import ThermorigError


class ModelError(ThermorigError):
    """A model package that is missing, unreadable, or does not match its JSON."""
