"""Counters and rate-limited warnings for what goes wrong while events flow.

A hot path that emits a bad event a thousand times a second must not write a thousand
warnings: each (condition, key) pair is logged at most once per interval
(``EVENTTRACKING_WARNING_INTERVAL`` seconds, default 60), and every occurrence is counted.
Applications read the counts with ``counts()``; tests reset them with ``reset()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from eventtracking import config

LOG = logging.getLogger("eventtracking")

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_last_logged: dict[tuple[str, str], float] = {}
_suppressed: Counter[tuple[str, str]] = Counter()


def count(condition: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter named ``condition``."""
    with _lock:
        _counts[condition] += amount


def warn(condition: str, key: object, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Count ``condition`` and log ``message`` unless (condition, key) was logged in the interval."""
    slot = (condition, str(key))
    now = time.monotonic()
    with _lock:
        _counts[condition] += 1
        last = _last_logged.get(slot)
        if last is not None and now - last < config.warning_interval():
            _suppressed[slot] += 1
            return
        _last_logged[slot] = now
        repeated = _suppressed.pop(slot, 0)
    if repeated:
        message += " (%d similar warnings suppressed)"
        args = (*args, repeated)
    LOG.log(level, message, *args)


def counts() -> dict[str, int]:
    """A snapshot of every counter, by condition name."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    """Forget every counter and every rate limit (for tests)."""
    with _lock:
        _counts.clear()
        _last_logged.clear()
        _suppressed.clear()
