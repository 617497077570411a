"""Keep or drop events by matching their names against regular expressions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.processors.exceptions import EventEmissionExit

ALLOWLIST = "allowlist"
BLOCKLIST = "blocklist"


class RegexFilter:
    """With ``allowlist``, keep only matching events; with ``blocklist``, drop matching events.

    Patterns are matched at the start of the name (``re.match``). An unknown filter type or
    an invalid pattern raises ``ImproperlyConfigured`` here, at configuration time.
    """

    def __init__(self, filter_type: str = ALLOWLIST, regular_expressions: Iterable[str] | None = None) -> None:
        if filter_type not in (ALLOWLIST, BLOCKLIST):
            raise ImproperlyConfigured(
                f"RegexFilter: filter_type {filter_type!r} is not supported; use {ALLOWLIST!r} or {BLOCKLIST!r}."
            )
        if isinstance(regular_expressions, str):
            raise ImproperlyConfigured("RegexFilter: regular_expressions must be a list of patterns, not a string.")
        self.filter_type = filter_type
        self.regular_expressions = frozenset(regular_expressions or [])
        self.compiled_expressions = self._compile(self.regular_expressions)

    @staticmethod
    def _compile(patterns: Iterable[str]) -> list[re.Pattern[str]]:
        compiled, invalid = [], []
        for pattern in sorted(patterns):
            try:
                compiled.append(re.compile(pattern))
            except (re.error, TypeError) as error:
                invalid.append(f"{pattern!r} ({error})")
        if invalid:
            raise ImproperlyConfigured(f"RegexFilter: invalid regular expressions: {', '.join(invalid)}.")
        return compiled

    def __call__(self, event: Any) -> Any:
        name = str(event["name"])
        matches = any(expression.match(name) for expression in self.compiled_expressions)
        if matches == (self.filter_type == ALLOWLIST):
            return event
        raise EventEmissionExit()
