"""What of the event context may cross process boundaries, and what may come in.

Entered contexts are mirrored into OTel baggage (see ``eventtracking.contexts``), and OTel's
stock ``W3CBaggagePropagator`` writes every baggage entry into every outgoing request that an
instrumented client makes. To keep ``user_id``, ``ip`` or ``session`` from leaking that way,
whichever propagators are configured:

* outgoing: only the context keys named in ``EVENTTRACKING_PROPAGATE_KEYS`` (default: none) leave
  the process, encoded by ``eventtracking.values.encode_baggage_value``; other baggage (set by the
  application through the baggage API, or received from upstream) passes as usual;
* incoming: baggage is untrusted; only the keys named in ``EVENTTRACKING_ACCEPT_BAGGAGE_KEYS``
  (default: none) become event context, decoded, beneath everything this process enters itself,
  so a client cannot set its own ``user_id``.

``EventTrackingBaggagePropagator`` (entry point ``eventtracking_baggage``, for
``OTEL_PROPAGATORS=tracecontext,eventtracking_baggage``) is a W3C baggage propagator that applies
these rules. ``guard_global_propagator()`` wraps the global propagator, whatever it is, in
``GuardedPropagator`` so that the rules hold even with the stock ``baggage`` propagator; it runs
when a context is first entered, and again if the global propagator is replaced later.
"""

from __future__ import annotations

from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators import textmap

from eventtracking import config, values
from eventtracking.contexts import STACK_KEY, with_incoming
from eventtracking.locator import default_locator

__all__ = ["EventTrackingBaggagePropagator", "GuardedPropagator", "guard_global_propagator"]


def outgoing_context(context: otel_context.Context | None = None) -> otel_context.Context:
    """``context`` with its baggage limited to what may leave the process."""
    if context is None:
        context = otel_context.get_current()
    stack = otel_context.get_value(STACK_KEY, context)
    allowed = config.names(config.PROPAGATE_KEYS) or []
    if stack is None and not allowed:
        return context
    entries = dict(baggage.get_all(context))
    if stack is not None:
        for key in stack.baggage:
            entries.pop(key, None)
    if allowed:
        resolved = default_locator().resolve(context)
        for key in allowed:
            if key in resolved:
                entries[key] = values.encode_baggage_value(resolved[key])
    context = baggage.clear(context)
    for key, value in entries.items():
        context = baggage.set_baggage(key, value, context)
    return context


def incoming_context(context: otel_context.Context) -> otel_context.Context:
    """``context`` (just extracted) with its accepted baggage keys as an untrusted event context."""
    accepted = config.names(config.ACCEPT_BAGGAGE_KEYS)
    if not accepted:
        return context
    entries = baggage.get_all(context)
    incoming = {key: values.decode_baggage_value(str(entries[key])) for key in accepted if key in entries}
    return with_incoming(context, incoming)


class GuardedPropagator(textmap.TextMapPropagator):
    """Any propagator, with the event context rules applied around it."""

    def __init__(self, inner: textmap.TextMapPropagator) -> None:
        self.inner = inner

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: otel_context.Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        self.inner.inject(carrier, outgoing_context(context), setter)

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: otel_context.Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> otel_context.Context:
        return incoming_context(self.inner.extract(carrier, context, getter))

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


class EventTrackingBaggagePropagator(GuardedPropagator):
    """W3C baggage that carries only the context keys allowed out, and lets in only those allowed in."""

    def __init__(self) -> None:
        super().__init__(W3CBaggagePropagator())


def guard_global_propagator() -> None:
    """Wrap the global OTel propagator in ``GuardedPropagator`` unless it already is."""
    current = propagate.get_global_textmap()
    if not isinstance(current, GuardedPropagator):
        propagate.set_global_textmap(GuardedPropagator(current))
