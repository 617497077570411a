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

Events emitted by ``before_request`` functions therefore carry no request context.

The user is ``g.user`` by default (the Flask tutorial's convention); pass
``user_getter=lambda: flask_login.current_user`` (or any callable returning the user or None)
to ``instrument()`` for another. The session key is Flask-Session's ``session.sid`` when there
is one, else the value of the session cookie; it is only ever recorded as a keyed hash.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import flask
import wrapt
from eventtracking.instrumentation._instrumentor import FrameworkInstrumentor
from eventtracking.instrumentation.flask.package import _instruments
from eventtracking.instrumentation.request_context import (
    REQUEST_CONTEXT_NAME,
    exit_request_context,
    in_request_context,
    request_context,
    session_context,
    user_context_from,
)
from flask.app import Flask
from opentelemetry.instrumentation.utils import unwrap

from eventtracking.tracker import get_tracker

__all__ = ["EventTrackingFlaskInstrumentor"]

# Set while the app dispatches the request, so that a preprocess_request() called by a test enters nothing.
_DISPATCHING = "eventtracking.dispatching"


def _g_user() -> Any:
    return flask.g.get("user")


class EventTrackingFlaskInstrumentor(FrameworkInstrumentor):
    """An OTel instrumentor that enters a request context for every Flask request."""

    _user_getter: Callable[[], Any]

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        """Patch Flask; ``user_getter`` returns the current user (default: ``g.user``)."""
        self._user_getter = kwargs.get("user_getter") or _g_user
        wrapt.wrap_function_wrapper(Flask, "full_dispatch_request", _full_dispatch_request)
        wrapt.wrap_function_wrapper(Flask, "preprocess_request", self._preprocess_request)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(Flask, "full_dispatch_request")
        unwrap(Flask, "preprocess_request")

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
            get_tracker().enter_context(REQUEST_CONTEXT_NAME, context)
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
