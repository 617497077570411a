"""Classes that the tests name as ENGINE: importable by dotted path, and they keep what they got."""

from __future__ import annotations

from typing import Any, ClassVar


class Recorder:
    """A backend (and any object in an OPTIONS tree) that keeps its options and the events sent to it."""

    instances: ClassVar[list[Recorder]] = []

    def __init__(self, **options: Any) -> None:
        Recorder.instances.append(self)
        self.options = options
        self.events: list[dict[str, Any]] = []
        self.shut_down = False

    def send(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def shutdown(self) -> None:
        self.shut_down = True


class NotCallable:
    """Neither a processor (not callable) nor a backend (no send)."""
