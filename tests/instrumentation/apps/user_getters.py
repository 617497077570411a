"""User getters that the tests name in ``EVENTTRACKING_FLASK_USER_GETTER``.

The getter is imported when ``instrument()`` runs, which under ``opentelemetry-instrument`` is
before the application is imported: like this one, a getter's module should not create the app.
"""

from __future__ import annotations

from types import SimpleNamespace

import flask

NOT_CALLABLE = 42


def header_user() -> SimpleNamespace | None:
    """The user an authenticating proxy names in ``X-Test-User`` (a stand-in for any other user source)."""
    name = flask.request.headers.get("X-Test-User")
    return SimpleNamespace(id=f"user-{name}", username=name) if name else None
