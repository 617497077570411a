"""The back service: a Flask app that charges; its events carry the course the front service propagated.

It accepts ``course_id`` from incoming baggage (``EVENTTRACKING_ACCEPT_BAGGAGE_KEYS=course_id``);
any other baggage a caller sends, such as ``user_id``, never becomes event context. The event
records the baggage header it received, to show what crossed the wire.
"""

from __future__ import annotations

from flask import Flask, request

from eventtracking import tracker

app = Flask(__name__)


@app.post("/charge")
def charge() -> dict:
    tracker.emit(
        "billing.charge.made", {"amount": request.get_json()["amount"], "baggage": request.headers.get("baggage")}
    )
    return {"charged": True}
