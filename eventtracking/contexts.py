"""Named contexts held in the OTel Context, mirrored as baggage.

The entered contexts form an immutable ``ContextStack`` stored in the current OTel Context,
so they follow threads that copy the context and asyncio tasks exactly as OTel does, and a
context entered inside an OTel scope (a span made current by an instrumentation, a request)
ends with that scope: nothing entered while serving one request survives its span.

The original API exits by name, in any order, while OTel restores contexts by token, last in
first out. Exiting therefore works in one of two ways:

* when nothing was attached since the matching enter (the ``with tracker.context()`` case), the
  enter is undone by its token, restoring the previous Context exactly;
* otherwise a new Context without that name is attached, and the entry is marked exited, so
  that an enclosing span that ends later and restores an older Context cannot bring it back.
  Marks are made only by the thread or task that entered the context: a child task or thread
  that exits an inherited context only changes its own view.

Beneath the stack lies a process-wide layer (``enter(..., process_wide=True)``) for values such
as host or release that every thread must see, as the original ``DefaultContextLocator`` did.

While a context is entered, its merged values are also in OTel baggage, under the context
keys, encoded by ``eventtracking.values.encode_baggage_value``. Keys that are not W3C tokens,
values whose pair exceeds 4096 bytes, and entries past 64 or past 8192 bytes in all are left
out of baggage (still in events) with a warning.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

from opentelemetry import baggage
from opentelemetry import context as otel_context

from eventtracking import diagnostics, values

LOG = logging.getLogger(__name__)

STACK_KEY = otel_context.create_key("eventtracking-contexts")
INCOMING_CONTEXT = "eventtracking.incoming-baggage"
MAX_BAGGAGE_ENTRIES = 64
MAX_BAGGAGE_PAIR_BYTES = 4096
MAX_BAGGAGE_BYTES = 8192
_BAGGAGE_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _Exits:
    """Counts exits that marked an entry, so a stack knows cheaply whether to look for marks."""

    generation = 0
    lock = threading.Lock()


def _owner() -> tuple[int, int]:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return threading.get_ident(), id(task) if task is not None else 0


class _Entry:
    __slots__ = ("active", "attached", "name", "owner", "replaced", "token", "trusted", "values")

    def __init__(
        self, name: str, context_values: dict[str, Any], replaced: _Entry | None, *, trusted: bool = True
    ) -> None:
        self.name = name
        self.values = context_values
        self.trusted = trusted
        self.owner = _owner()
        self.active = True
        self.replaced = replaced
        self.token: contextvars.Token | None = None
        self.attached: otel_context.Context | None = None


class ContextStack:
    """An immutable snapshot of the entered contexts, oldest first, with their merged values."""

    __slots__ = ("baggage", "entries", "generation", "incoming", "merged", "names", "nested")

    def __init__(self, entries: tuple[_Entry, ...]) -> None:
        self.entries = entries
        # Read on every emit once a context is described (context_type_id): computed once per enter.
        self.names = tuple(entry.name for entry in entries)
        merged: dict[str, Any] = {}
        incoming: dict[str, Any] = {}
        for entry in entries:
            (merged if entry.trusted else incoming).update(entry.values)
        self.merged = merged
        self.incoming = incoming
        self.nested = values.has_containers(merged) or values.has_containers(incoming)
        self.baggage = _baggage_entries(merged)
        self.generation = _Exits.generation

    def find(self, name: str) -> _Entry | None:
        for entry in self.entries:
            if entry.name == name and entry.active:
                return entry
        return None

    def without(self, entry: _Entry) -> ContextStack:
        return ContextStack(tuple(item for item in self.entries if item is not entry))


def _baggage_entries(merged: Mapping[str, Any]) -> dict[str, str]:
    entries: dict[str, str] = {}
    total = 0
    for raw_key, value in merged.items():
        key = str(raw_key)
        if not _BAGGAGE_KEY.fullmatch(key):
            diagnostics.warn(
                "baggage_invalid_key", key, "Context key %r is not a W3C baggage key; kept out of baggage.", key
            )
            continue
        encoded = values.encode_baggage_value(value)
        size = len(key) + 1 + len(quote(encoded, safe=""))
        if size > MAX_BAGGAGE_PAIR_BYTES or len(entries) >= MAX_BAGGAGE_ENTRIES or total + size > MAX_BAGGAGE_BYTES:
            diagnostics.warn(
                "baggage_oversize",
                key,
                "Context key %r (%d bytes) exceeds the W3C baggage limits; kept out of baggage.",
                key,
                size,
            )
            continue
        entries[key] = encoded
        total += size + 1
    return entries


def _with_stack(ctx: otel_context.Context, old: ContextStack | None, new: ContextStack) -> otel_context.Context:
    mirrored = dict(baggage.get_all(ctx))
    if old is not None:
        for key in old.baggage:
            mirrored.pop(key, None)
    mirrored.update(new.baggage)
    ctx = baggage.clear(ctx)
    for key, value in mirrored.items():
        ctx = baggage.set_baggage(key, value, ctx)
    return otel_context.set_value(STACK_KEY, new if new.entries else None, ctx)


def with_incoming(context: otel_context.Context, incoming: dict[str, Any]) -> otel_context.Context:
    """``context`` with ``incoming`` (values from another process) beneath its entered contexts."""
    stack = otel_context.get_value(STACK_KEY, context)
    entries = tuple(entry for entry in (stack.entries if stack else ()) if entry.trusted)
    if incoming:
        entries = (_Entry(INCOMING_CONTEXT, incoming, None, trusted=False), *entries)
    return otel_context.set_value(STACK_KEY, ContextStack(entries) if entries else None, context)


def _restore(token: contextvars.Token | None) -> bool:
    """Undo an attach by its token when this thread and task made it; False when it cannot."""
    if not isinstance(token, contextvars.Token):
        return False
    try:
        token.var.reset(token)
    except (ValueError, RuntimeError):
        return False
    return True


class _ProcessLayer:
    """Contexts every thread sees; copy-on-write so readers never lock."""

    def __init__(self) -> None:
        self.contexts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.merged: dict[str, Any] = {}
        self.nested = False
        self._lock = threading.Lock()

    def set(self, name: str, context_values: dict[str, Any] | None) -> bool:
        with self._lock:
            contexts = OrderedDict(self.contexts)
            if context_values is None:
                if contexts.pop(name, None) is None:
                    return False
            else:
                contexts[name] = context_values
            merged: dict[str, Any] = {}
            for item in contexts.values():
                merged.update(item)
            self.contexts, self.merged, self.nested = contexts, merged, values.has_containers(merged)
            return True


class OTelContextLocator:
    """Keeps a tracker's contexts in the OTel Context (the default for every tracker).

    ``get()`` returns a mutable mapping of context names to values, so code written for the
    original locators (``tracker.located_context[name] = ctx``) keeps working.
    """

    def __init__(self) -> None:
        self._process = _ProcessLayer()

    def current_stack(self, context: otel_context.Context | None = None) -> ContextStack | None:
        """The stack of ``context`` (default: the current one), without entries an exit has marked.

        When the current Context holds marked entries, a cleaned Context is attached, so their
        baggage entries go too.
        """
        stack = otel_context.get_value(STACK_KEY, context)
        if stack is None or stack.generation == _Exits.generation:
            return stack
        live = tuple(entry for entry in stack.entries if entry.active)
        if len(live) == len(stack.entries):
            stack.generation = _Exits.generation
            return stack
        healed = ContextStack(live)
        if context is None:
            otel_context.attach(_with_stack(otel_context.get_current(), stack, healed))
        return healed if live else None

    def enter(self, name: str, context_values: Mapping[str, Any], *, process_wide: bool = False) -> None:
        context_values = dict(context_values)
        if process_wide:
            self._process.set(name, context_values)
            return
        stack = self.current_stack()
        entries = list(stack.entries) if stack is not None else []
        previous = stack.find(name) if stack is not None else None
        entry = _Entry(name, context_values, previous)
        if previous is not None:
            entries[entries.index(previous)] = entry
        else:
            entries.append(entry)
        new_ctx = _with_stack(otel_context.get_current(), stack, ContextStack(tuple(entries)))
        entry.token = otel_context.attach(new_ctx)
        entry.attached = new_ctx
        from eventtracking import propagation  # imports this module

        propagation.guard_global_propagator()

    def exit(self, name: str) -> bool:
        """Leave the named context; False (and no change) when it is not entered here."""
        stack = self.current_stack()
        entry = stack.find(name) if stack is not None else None
        if entry is None:
            return self._process.set(name, None)
        owner = _owner()
        if (
            entry.replaced is None
            and entry.owner == owner
            and entry.attached is otel_context.get_current()
            and _restore(entry.token)
        ):
            return True
        if entry.owner == owner:
            with _Exits.lock:
                marked = entry
                while marked is not None:
                    marked.active = False
                    marked = marked.replaced
                _Exits.generation += 1
        otel_context.attach(_with_stack(otel_context.get_current(), stack, stack.without(entry)))
        return True

    def resolve(self, context: otel_context.Context | None = None) -> dict[str, Any]:
        """The merged values of every entered context, as a dict the caller may modify.

        Accepted incoming baggage lies beneath everything the process entered itself.
        """
        stack = self.current_stack(context)
        process = self._process
        if stack is None:
            merged, nested = process.merged, process.nested
        elif process.merged or stack.incoming:
            merged = {**stack.incoming, **process.merged, **stack.merged}
            nested = process.nested or stack.nested
        else:
            merged, nested = stack.merged, stack.nested
        return values.copy_event_value(merged) if nested else dict(merged)

    def names(self) -> tuple[str, ...]:
        """The names of the entered contexts, oldest first, the process-wide layer first (cheap)."""
        stack = self.current_stack()
        local = stack.names if stack is not None else ()
        process_contexts = self._process.contexts
        if not process_contexts:
            return local
        process = tuple(name for name in process_contexts if name not in local)
        return process + local

    def contexts(self) -> OrderedDict[str, dict[str, Any]]:
        """Every entered context by name, the process-wide layer first."""
        result = OrderedDict(self._process.contexts)
        stack = self.current_stack()
        if stack is not None:
            for entry in stack.entries:
                result.pop(entry.name, None)
                result[entry.name] = entry.values
        return result

    def get(self) -> MutableMapping[str, dict[str, Any]]:
        return LocatedContexts(self)


class LocatedContexts(MutableMapping):
    """The original locators' mapping interface over an ``OTelContextLocator``."""

    def __init__(self, locator: OTelContextLocator) -> None:
        self._locator = locator

    def __getitem__(self, name: str) -> dict[str, Any]:
        return self._locator.contexts()[name]

    def __setitem__(self, name: str, context_values: Mapping[str, Any]) -> None:
        self._locator.enter(name, context_values)

    def __delitem__(self, name: str) -> None:
        if not self._locator.exit(name):
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._locator.names())

    def __len__(self) -> int:
        return len(self._locator.names())
