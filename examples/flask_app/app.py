"""A small Flask app whose views emit events; run it under opentelemetry-instrument (see README.md).

It has no event-tracking setup of its own: ``opentelemetry-instrument`` applies the
``eventtracking_flask`` instrumentor, which enters the request context for every request, and
the ``EVENTTRACKING_*`` / ``OTEL_*`` environment decides where the events go. Its event types are
registered in ``events.py``. The page ``/page`` loads the browser client (the blueprint of
``eventtracking.browser.flask``), whose ``Tracker.emit`` sends a click on its button to the
blueprint's endpoint. Users live in memory and any non-empty password logs in: a demo, not a
login system.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace

from flask import Flask, Response, g, render_template, request, session

from eventtracking import tracker
from eventtracking.browser.flask import create_blueprint
from examples.flask_app import events  # noqa: F401  (registers the event types)

USERS = {"alice": 1, "bob": 2}


def create_app() -> Flask:
    """The example app; a factory, so tests can make fresh instances."""
    app = Flask(__name__)
    app.secret_key = os.environ.get("FLASK_SECRET_KEY", "flask-example-only-secret")
    # /eventtracking/tracker.js and /eventtracking/events; its CSRF token lives in the signed session.
    app.register_blueprint(create_blueprint())

    @app.before_request
    def load_user() -> None:
        # The Flask tutorial's convention, which the instrumentor reads by default.
        username = session.get("username")
        g.user = SimpleNamespace(id=USERS[username], username=username) if username in USERS else None

    @app.get("/")
    def index() -> dict:
        tracker.emit("demo.page.viewed", {"page": "home"})
        return {"ok": True}

    @app.get("/page")
    def page() -> str:
        tracker.emit("demo.page.viewed", {"page": "button"})
        return render_template("page.html", username=g.user.username if g.user else None)

    @app.post("/login")
    def login() -> tuple[dict, int]:
        username = request.form.get("username", "")
        if username not in USERS or not request.form.get("password"):
            return {"ok": False}, 401
        session["username"] = username
        tracker.emit("demo.user.logged_in", {"method": "password"})
        return {"ok": True}, 200

    @app.get("/fail")
    def fail() -> dict:
        tracker.emit("demo.failure.started", {"reason": "on purpose"})
        raise RuntimeError("this view fails on purpose")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for number in range(3):
                tracker.emit("demo.stream.chunk", {"number": number})
                yield f"chunk {number}\n"

        return Response(chunks(), mimetype="text/plain")

    return app


app = create_app()
