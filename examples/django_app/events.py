"""The event types of the Django example, registered when its views (or ``wsgi.py``) import this module.

Registration documents each type (``python -m eventtracking docs --module examples.django_app.events``),
makes its events carry ``name_id`` (the id of this documentation) and the emitted data checked
against it (a warning for a field not listed here, or missing). Every process that imports this
module sends each type's metadata record (``eventtracking.metadata``) once through its pipeline.

The types both examples emit are registered once, by the Flask example's events module (which
imports nothing of Flask), so they have the same ids; only the async view's type is Django's own.
``demo.button.clicked`` is emitted by the browser, with ``Tracker.emit`` on the page ``/page``;
its events carry ``origin: "client"`` and the page's request context, like the server's. The
request context, described by the instrumentation, is listed in this module's documentation too.
"""

from __future__ import annotations

from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking import tracker
from examples.flask_app.events import BUTTON_CLICKED, FAILURE_STARTED, LOGGED_IN, PAGE_VIEWED, STREAM_CHUNK

ASYNC_VIEWED = tracker.register(
    "demo.async.viewed",
    "A visitor opened the page served by an async view (emitted by the server).",
    {"page": "Which page: async."},
)

# Every type of this example, for the tests; the contexts its events are emitted in.
TYPES = (PAGE_VIEWED, ASYNC_VIEWED, LOGGED_IN, FAILURE_STARTED, STREAM_CHUNK, BUTTON_CLICKED)
CONTEXTS = (REQUEST_CONTEXT,)
