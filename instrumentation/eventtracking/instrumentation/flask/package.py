"""The Flask versions this instrumentor supports."""

_instruments = ("flask >= 2.3",)
