"""The browser client for Flask: a blueprint that serves ``tracker.js`` and accepts its batches.

    from eventtracking.browser.flask import create_blueprint
    app.secret_key = ...                       # the CSRF token is bound to Flask's signed session
    app.register_blueprint(create_blueprint())  # /eventtracking/tracker.js and /eventtracking/events

and in a template, ``{{ eventtracking_script() }}`` writes the script tag with the endpoint and a
CSRF token; the page then calls ``Tracker.emit(name, data)``.

CSRF: a signed double-submit token. A random nonce is kept in Flask's session (a cookie signed
with the app's secret key, sent by the browser only to this site); the token is that nonce
signed with itsdangerous (salt ``eventtracking.browser``). A batch must bring the token in the
``X-EventTracking-Token`` header or the ``eventtracking_token`` form field (what
``sendBeacon`` uses), and it must match the session's nonce: another site can make the browser
post, but cannot read the token. Failures get 403 and a reason, like the other rejections
(``eventtracking.browser``).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup, escape

from eventtracking.browser import Limits, Rejected, batch_text, check_length, emit_batch, parse_events, script
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.tracker import Tracker, get_tracker

__all__ = ["TOKEN_FIELD", "TOKEN_HEADER", "create_blueprint", "csrf_token"]

TOKEN_HEADER = "X-EventTracking-Token"
TOKEN_FIELD = "eventtracking_token"
SESSION_KEY = "_eventtracking_nonce"
SALT = "eventtracking.browser"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def csrf_token() -> str:
    """The token a page gives the client for this session (made, and kept in the session, on first use)."""
    nonce = session.get(SESSION_KEY)
    if not nonce:
        nonce = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return _serializer().dumps(nonce)


def _check_token(token: str | None) -> None:
    nonce = session.get(SESSION_KEY)
    if not token or not nonce:
        raise Rejected(403, f"CSRF token missing: send it in the {TOKEN_HEADER} header or the {TOKEN_FIELD} field.")
    try:
        signed = _serializer().loads(token)
    except BadSignature:
        raise Rejected(403, "CSRF token invalid.") from None
    if not isinstance(signed, str) or not hmac.compare_digest(signed, nonce):
        raise Rejected(403, "CSRF token does not belong to this session.")


def create_blueprint(
    tracker: Tracker | None = None,
    *,
    limits: Limits | None = None,
    name: str = "eventtracking",
    url_prefix: str = "/eventtracking",
) -> Blueprint:
    """A blueprint with ``GET tracker.js`` and ``POST events``, emitting through ``tracker``.

    ``tracker`` defaults to the default tracker (looked up per request); ``limits`` default to
    ``Limits.from_env()``. Registering it on an app without a secret key raises
    ``ImproperlyConfigured``.
    """
    limits = limits or Limits.from_env()
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.record_once
    def _needs_secret_key(state: Any) -> None:
        app: Flask = state.app
        if not app.secret_key:
            raise ImproperlyConfigured("The eventtracking blueprint needs app.secret_key for its CSRF token.")

    @blueprint.get("/tracker.js")
    def tracker_js() -> Response:
        response = Response(script(), mimetype="text/javascript")
        response.cache_control.public = True
        response.cache_control.max_age = 3600
        return response

    @blueprint.post("/events")
    def events() -> tuple[Response, int]:
        try:
            check_length(request.content_length, limits)
            body = request.stream.read(limits.max_body_bytes + 1)  # enough to tell an oversize body
            text, form = batch_text(body, request.content_type, limits)
            _check_token(request.headers.get(TOKEN_HEADER) or form.get(TOKEN_FIELD))
            batch = parse_events(text, limits)
            accepted = emit_batch(tracker or get_tracker(), batch, _request_context)
        except Rejected as rejected:
            return jsonify(error=rejected.reason), rejected.status
        return jsonify(accepted=accepted), 202

    @blueprint.app_context_processor
    def _template_helpers() -> dict[str, Any]:
        def eventtracking_script() -> Markup:
            """The script tag of the client, configured for this blueprint and session."""
            attributes = {
                "src": url_for(f"{name}.tracker_js"),
                "data-endpoint": url_for(f"{name}.events"),
                "data-csrf-token": csrf_token(),
                "data-csrf-header": TOKEN_HEADER,
                "data-csrf-field": TOKEN_FIELD,
            }
            rendered = " ".join(f'{key}="{escape(value)}"' for key, value in attributes.items())
            return Markup(f"<script {rendered}></script>")

        return {"eventtracking_script": eventtracking_script, "eventtracking_csrf_token": csrf_token}

    return blueprint


def _request_context() -> dict[str, Any]:
    from eventtracking.instrumentation.request_context import request_context

    return request_context(request.environ, path=request.path, cookies=request.cookies)
