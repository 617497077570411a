"""The event types of the Django example, registered when its views (or ``wsgi.py``) import this module.

Registration documents each type (``python -m eventtracking docs --module examples.django_app.events``),
makes its events carry ``name_id`` (the id of this documentation) and the emitted data checked
against it (a warning for a field not listed here, or missing). Every process that imports this
module sends each type's metadata record (``eventtracking.metadata``) once through its pipeline.

The types the Flask example shares are registered with the same text, so they have the same ids.
``demo.button.clicked`` is emitted by the browser, with ``Tracker.emit`` on the page ``/page``;
its events carry ``origin: "client"`` and the page's request context, like the server's.
"""

from __future__ import annotations

from eventtracking import tracker

PAGE_VIEWED = tracker.register(
    "demo.page.viewed",
    "A visitor opened a page of the demo site (emitted by the server).",
    {"page": "Which page: home, button."},
)
ASYNC_VIEWED = tracker.register(
    "demo.async.viewed",
    "A visitor opened the page served by an async view (emitted by the server).",
    {"page": "Which page: async."},
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

# Every type of this example, for the tests.
TYPES = (PAGE_VIEWED, ASYNC_VIEWED, LOGGED_IN, FAILURE_STARTED, STREAM_CHUNK, BUTTON_CLICKED)
