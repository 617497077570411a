"""The original ``RoutingBackend``: processors then backends, nestable into trees.

It is ``eventtracking.routing.EventRouter``, which is also an OTel LogRecordProcessor; see
that module for the contract of processors and backends.
"""

from eventtracking.routing import EventRouter

RoutingBackend = EventRouter

__all__ = ["RoutingBackend"]
