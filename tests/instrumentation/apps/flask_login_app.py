"""A Flask app that keeps its users with Flask-Login and sets no ``g.user``: the instrumentor reads ``current_user``.

Served by the tests through Flask's test client and under gunicorn + ``opentelemetry-instrument``
(``tests.instrumentation.apps.flask_login_app:app``). Each app records the user ids its
``user_loader`` was asked for (``app.config["LOADED_USER_IDS"]``), so a test can tell when a user
was loaded.
"""

from __future__ import annotations

import flask
from flask import Flask, request
from flask_login import LoginManager, UserMixin, login_user

from eventtracking import tracker


class User(UserMixin):
    """A user of the app: Flask-Login's ``id``, and a ``username``."""

    def __init__(self, user_id: int, username: str) -> None:
        self.id = user_id
        self.username = username


USERS = {"alice": User(1, "alice"), "bob": User(2, "bob")}


def create_app(*, login_manager: bool = True) -> Flask:
    """The app; with ``login_manager=False`` it does not use Flask-Login (``/`` only)."""
    app = Flask(__name__)
    app.secret_key = "flask-login-test-only-secret"
    app.config["LOADED_USER_IDS"] = []
    if login_manager:
        manager = LoginManager()
        manager.init_app(app)

        @manager.user_loader
        def load_user(user_id: str) -> User | None:
            app.config["LOADED_USER_IDS"].append(user_id)
            return next((user for user in USERS.values() if user.get_id() == user_id), None)

        @app.post("/login")
        def login() -> tuple[dict, int]:
            user = USERS.get(request.form.get("username", ""))
            if user is None:
                return {"ok": False}, 401
            login_user(user)
            tracker.emit("login.done", {})
            return {"ok": True}, 200

    @app.get("/")
    def index() -> dict:
        # Whether Flask-Login has loaded (or been asked for) the user in this request.
        tracker.emit("page.viewed", {"user_loaded": "_login_user" in flask.g})
        return {"ok": True}

    return app


app = create_app()
