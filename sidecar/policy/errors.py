"""The error raised when configuration is invalid: it names the field and the reason."""

from __future__ import annotations


class ConfigError(ValueError):
    """Invalid configuration at `field` (a dotted path like `policy.clusters[0].name`)."""

    def __init__(self, field: str, reason: str, source: str = "") -> None:
        self.field = field
        self.reason = reason
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field or '<root>'}: {reason}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str, str]]:
        """Picklable (a reload validates in a child process and sends errors back)."""
        return (type(self), (self.field, self.reason, self.source))

    def in_source(self, source: str) -> ConfigError:
        """The same error, attributed to a file (or other source)."""
        return ConfigError(self.field, self.reason, source)
