"""Enter the request context (see ``eventtracking.instrumentation.request_context``) for every Flask request.

``EventTrackingFlaskInstrumentor().instrument()`` (or ``opentelemetry-instrument``, through the
entry point ``eventtracking_flask``) patches ``Flask.preprocess_request`` and
``Flask.full_dispatch_request`` of every app, existing or future:

* the context is entered once the ``before_request`` functions have run: that is where apps load
  their user (``g.user``), and where OTel's own Flask instrumentation starts the server span,
  whose start replaces the current OTel Context with the one extracted from the request; entered
  inside that span, the context also lands on it as attributes, and ends with it;
* it is exited when dispatch ends (a view that raises included), or, for a streamed response,
  when the server closes it; the stream runs in the request's OTel Context.

Events emitted by ``before_request`` functions therefore carry no request context. ``instrument()``
describes the request context (``register_request_context``): events emitted inside it carry
``context_type_id``.

The user, read once the ``before_request`` functions have run, comes from the first of:

* ``instrument(user_getter=...)``: any callable returning the user or None;
* ``EVENTTRACKING_FLASK_USER_GETTER=module:callable`` (or ``module.callable``), resolved (imported)
  when ``instrument()`` runs, so that a wrong path fails at start-up with ``ImproperlyConfigured``
  naming the variable; for ``opentelemetry-instrument``, which passes no arguments. A Werkzeug
  proxy such as ``flask_login:current_user`` is read through ``_get_current_object``;
* by default, ``g.user`` (the Flask tutorial's convention) when it is set and not None, else, when
  the app uses Flask-Login (``flask_login`` is imported and ``LoginManager.init_app`` gave the app
  its ``login_manager``), ``flask_login.current_user``, loaded as a view reading it would load it.
  An app without Flask-Login never has a user loaded.

Only an authenticated user is recorded (``is_authenticated``). The session key is
Flask-Session's ``session.sid`` when there is one, else the value of the session cookie; it is
only ever recorded as a keyed hash.
"""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import Callable, Collection
from typing import Any

import flask
import wrapt
from eventtracking.instrumentation._instrumentor import FrameworkInstrumentor
from eventtracking.instrumentation.flask.package import _instruments
from eventtracking.instrumentation.request_context import (
    enter_request_context,
    exit_request_context,
    in_request_context,
    register_request_context,
    request_context,
    session_context,
    user_context_from,
)
from flask.app import Flask
from opentelemetry.instrumentation.utils import unwrap
from werkzeug.local import LocalProxy

from eventtracking import config
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.tracker import get_tracker

__all__ = ["EventTrackingFlaskInstrumentor", "default_user"]

# Set while the app dispatches the request, so that a preprocess_request() called by a test enters nothing.
_DISPATCHING = "eventtracking.dispatching"


def default_user() -> Any:
    """``g.user`` when it is set and not None, else Flask-Login's ``current_user`` when the app uses Flask-Login."""
    user = flask.g.get("user")
    if user is None:
        user = _flask_login_user()
    return user


def _flask_login_user() -> Any:
    # Imported by the app if it uses Flask-Login: never imported here, nor a user loaded without it.
    flask_login = sys.modules.get("flask_login")
    if flask_login is None:
        return None
    if not isinstance(getattr(flask.current_app, "login_manager", None), flask_login.LoginManager):
        return None
    return flask_login.current_user._get_current_object()


def _configured_user_getter() -> Callable[[], Any] | None:
    """The getter named by ``EVENTTRACKING_FLASK_USER_GETTER`` (imported now), or None when it is unset."""
    path = config.text(config.FLASK_USER_GETTER, "")
    if not path:
        return None
    try:
        getter = pkgutil.resolve_name(path)
    except Exception as error:
        raise ImproperlyConfigured(
            f"{config.FLASK_USER_GETTER}={path!r}: cannot import it ({type(error).__name__}: {error}); "
            "name a callable returning the user, as module:callable or module.callable."
        ) from error
    if isinstance(getter, LocalProxy):
        return getter._get_current_object
    if not callable(getter):
        raise ImproperlyConfigured(
            f"{config.FLASK_USER_GETTER}={path!r} is a {type(getter).__name__}, not a callable returning the user."
        )
    return getter


class EventTrackingFlaskInstrumentor(FrameworkInstrumentor):
    """An OTel instrumentor that enters a request context for every Flask request."""

    _user_getter: Callable[[], Any] = staticmethod(default_user)

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        """Patch Flask; ``user_getter`` returns the current user (see the module's documentation)."""
        self._user_getter = kwargs.get("user_getter") or _configured_user_getter() or default_user
        register_request_context()
        wrapt.wrap_function_wrapper(Flask, "full_dispatch_request", _full_dispatch_request)
        wrapt.wrap_function_wrapper(Flask, "preprocess_request", self._preprocess_request)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(Flask, "full_dispatch_request")
        unwrap(Flask, "preprocess_request")
        self._user_getter = default_user

    def _preprocess_request(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        """Run the ``before_request`` functions, then enter the request context."""
        result = wrapped(*args, **kwargs)
        request = flask.request
        if request.environ.get(_DISPATCHING):
            cookie_name = instance.session_interface.get_cookie_name(instance)
            session_key = getattr(flask.session, "sid", None) or request.cookies.get(cookie_name)
            context = {
                **request_context(request.environ, path=request.script_root + request.path, cookies=request.cookies),
                **session_context(session_key, instance.secret_key),
                **user_context_from(self._user_getter, "the user"),
            }
            enter_request_context(get_tracker(), context)
        return result


def _full_dispatch_request(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Dispatch the request; exit its context at the end, or when a streamed response is closed."""
    flask.request.environ[_DISPATCHING] = True
    tracker = get_tracker()
    try:
        response = wrapped(*args, **kwargs)
    except BaseException:
        exit_request_context(tracker)
        raise
    if response.is_streamed and not response.direct_passthrough:
        response.response = in_request_context(response.response, tracker)
    else:
        exit_request_context(tracker)
    return response
