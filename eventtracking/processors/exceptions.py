"""Exceptions that processors and backends raise to steer an event (the original's names)."""


class EventEmissionExit(Exception):
    """Raised by a processor to drop the event for the rest of its branch."""


class NoTransformerImplemented(Exception):
    """Raised by a backend that has no transformer for this event; logged at INFO, not an error."""


class NoBackendEnabled(Exception):
    """Raised by a backend that is not enabled for this event; logged at INFO, not an error."""
