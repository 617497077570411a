"""Exceptions raised by this package at configuration time."""


class ImproperlyConfigured(Exception):
    """A tracker, processor, backend or environment variable is configured wrongly."""
