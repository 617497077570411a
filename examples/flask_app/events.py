"""The event types of the Flask example, registered when the app imports this module.

Registration documents each type (``python -m eventtracking docs --module examples.flask_app.events``),
makes its events carry ``name_id`` (the id of this documentation) and the emitted data checked
against it (a warning for a field not listed here, or missing). Every process that imports this
module sends each type's metadata record (``eventtracking.metadata``) once through its pipeline.

``demo.button.clicked`` is emitted by the browser, with ``Tracker.emit`` on the page ``/page``;
its events carry ``origin: "client"`` and the page's request context, like the server's.

Every event is emitted in the request context that the instrumentor enters, which the
instrumentation describes itself (``REQUEST_CONTEXT``, registered when its module is imported):
importing it here lists it in this module's documentation too; its events carry its id as
``context_type_id``.
"""

from __future__ import annotations

from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking import tracker

PAGE_VIEWED = tracker.register(
    "demo.page.viewed",
    "A visitor opened a page of the demo site (emitted by the server).",
    {"page": "Which page: home, button."},
)
LOGGED_IN = tracker.register(
    "demo.user.logged_in",
    "A visitor logged in (emitted by the server once the password is accepted).",
    {"method": "How: password."},
)
FAILURE_STARTED = tracker.register(
    "demo.failure.started",
    "A page that fails on purpose started (emitted by the server before it answers 500).",
    {"reason": "Why it fails."},
)
STREAM_CHUNK = tracker.register(
    "demo.stream.chunk",
    "The server sent one chunk of a streamed page, while streaming it.",
    {"number": "The chunk's position in the stream, from 0."},
)
BUTTON_CLICKED = tracker.register(
    "demo.button.clicked",
    "A visitor clicked a button of the demo page (emitted by the browser client, origin client).",
    {
        "button": "Which button: its element id.",
        "clicks": "How many times it has been clicked on this page view, this click included.",
    },
)

# Every type of this example, for the tests and the demo.
TYPES = (PAGE_VIEWED, LOGGED_IN, FAILURE_STARTED, STREAM_CHUNK, BUTTON_CLICKED)
# The contexts its events are emitted in.
CONTEXTS = (REQUEST_CONTEXT,)
