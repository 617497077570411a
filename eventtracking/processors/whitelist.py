"""Drop events whose names are not on an allowlist (the original's ``NameWhitelistProcessor``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventtracking.processors.exceptions import EventEmissionExit


class NameWhitelistProcessor:
    """Let through only the events whose name is in ``whitelist``."""

    def __init__(self, whitelist: Iterable[str] | None = None, **_kwargs: Any) -> None:
        try:
            if isinstance(whitelist, str):
                raise TypeError
            self.whitelist = frozenset(whitelist)
        except TypeError as error:
            raise TypeError(
                "The NameWhitelistProcessor must be passed a collection of allowed names using the "
                '"whitelist" parameter'
            ) from error

    def __call__(self, event: Any) -> Any:
        """Drop the event unless allowed; a list of events (batched callers) is filtered instead."""
        if isinstance(event, list):
            return [item for item in event if item["name"] in self.whitelist]
        if event["name"] not in self.whitelist:
            raise EventEmissionExit()
        return event
