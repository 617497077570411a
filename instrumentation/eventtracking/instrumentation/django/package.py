"""The Django versions this instrumentor supports."""

_instruments = ("django >= 4.2",)
