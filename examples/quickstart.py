"""The original event-tracking README example, run on the embedded defaults.

With no OTel setup and no configuration, the default tracker writes each event as a JSON line
to the ``eventtracking.events`` logger; logging is pointed at stdout so the lines show.
Run it with ``python examples/quickstart.py``.
"""

import logging
import sys

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")

# The example as the original README gives it.
from eventtracking import tracker  # noqa: E402

tracker = tracker.get_tracker()
tracker.enter_context("outer", {"user_id": 10938})
tracker.emit("navigation.request", {"url": "http://www.edx.org/some/path/1"})
with tracker.context({"user_id": 11111, "session_id": "2987lkjdoyoioey"}):
    tracker.emit("navigation.request", {"url": "http://www.edx.org/some/path/2"})
tracker.emit("address.create", {"name": "foo", "address": {"postal_code": "90210", "country": "United States"}})

tracker.exit_context("outer")
tracker.flush()
