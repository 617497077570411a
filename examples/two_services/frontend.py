"""The front service: a Flask app that calls the back service for every checkout.

Its request context (entered by the ``eventtracking_flask`` instrumentor) holds the user, the
client's address and a session hash; its view adds the course. Only the keys named in
``EVENTTRACKING_PROPAGATE_KEYS`` (here ``course_id``) travel to the back service, as W3C baggage
on the call that OTel's requests instrumentation makes.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import requests
from flask import Flask, g, request

from eventtracking import tracker

BACKEND_URL = os.environ.get("BACKEND_URL", "http://127.0.0.1:8002")
USERS = {"alice": 1, "bob": 2}

app = Flask(__name__)
app.secret_key = os.environ.get("FLASK_SECRET_KEY", "two-services-example-only-secret")


@app.before_request
def load_user() -> None:
    username = request.headers.get("X-Demo-User", "")
    g.user = SimpleNamespace(id=USERS[username], username=username) if username in USERS else None


@app.post("/checkout/<course_id>")
def checkout(course_id: str) -> dict:
    with tracker.get_tracker().context("course", {"course_id": course_id}):
        tracker.emit("shop.checkout.started", {"course_id": course_id})
        charge = requests.post(f"{BACKEND_URL}/charge", json={"amount": 42}, timeout=10)
        tracker.emit("shop.checkout.finished", {"charged": charge.ok})
    return {"ok": charge.ok, "backend": charge.json()}
