"""What the instrumentor tests share: secrets that must never be recorded, and ways to read what was."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Secrets the test requests send; none of them may appear in any recorded event or span.
PASSWORD = "pw-Wh1teRabbit"
BEARER = "Bearer tok-Ch3shire"
OTHER_COOKIE = "cookie-M4dHatter"


class EventBackend:
    """A backend of the original contract that keeps the events it is sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def send(self, event: dict) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[dict]:
        return [event for event in self.events if event["name"] == name]


def server_span(exporter: InMemorySpanExporter, name: str):
    """The one finished span named ``name``."""
    (span,) = [span for span in exporter.get_finished_spans() if span.name == name]
    return span


def assert_no_secrets(*recorded: object) -> None:
    """None of the secrets sent by the tests appears in what was recorded."""
    text = repr(recorded)
    for secret in (PASSWORD, BEARER, "tok-Ch3shire", OTHER_COOKIE):
        assert secret not in text
