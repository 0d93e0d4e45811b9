"""The one error the models package raises for anything a user brought or named."""

from drivers.errors import ThermorigError


class ModelError(ThermorigError):
    """A model package that is missing, unreadable, or does not match its JSON."""


class ModelOutputError(ModelError):
    """A network that gave NaN or infinite outputs for a frame: no labels can be read
    from them (argmax of NaN is "background" everywhere, not "unknown")."""

    def __init__(self, message: str, model: str = ""):
        super().__init__(message)
        self.model = model
