"""Where a tracker keeps its contexts.

The default is ``OTelContextLocator``: contexts live in the OTel Context (see
``eventtracking.contexts``) and are shared by every tracker that uses it. The original
locators remain for code that passes them explicitly: ``DefaultContextLocator`` holds one
dict for the whole process (every thread sees it) and ``ThreadLocalContextLocator`` one dict
per thread. Both implement ``get()``, returning an ``OrderedDict``-like mapping.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from eventtracking.contexts import OTelContextLocator

__all__ = ["DefaultContextLocator", "OTelContextLocator", "ThreadLocalContextLocator", "default_locator"]

_DEFAULT = OTelContextLocator()


def default_locator() -> OTelContextLocator:
    """The OTel-backed locator that trackers share unless given another."""
    return _DEFAULT


class DefaultContextLocator:
    """One context dict for this locator, shared by every thread (the original's default)."""

    def __init__(self) -> None:
        self.context: OrderedDict[str, Any] = OrderedDict()

    def get(self) -> OrderedDict[str, Any]:
        """Get a reference to the context."""
        return self.context


class ThreadLocalContextLocator:
    """One context dict per thread.

    ``threading.local()`` is created on first use, so that concurrency libraries (gevent) can
    patch it first.
    """

    def __init__(self) -> None:
        self.thread_local_data: threading.local | None = None

    def get(self) -> OrderedDict[str, Any]:
        """Return a reference to a thread-specific context."""
        if not self.thread_local_data:
            self.thread_local_data = threading.local()
        if not hasattr(self.thread_local_data, "context"):
            self.thread_local_data.context = OrderedDict()
        return self.thread_local_data.context
