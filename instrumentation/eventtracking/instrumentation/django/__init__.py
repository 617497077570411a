"""Enter the request context (see ``eventtracking.instrumentation.request_context``) for every Django request.

``EventTrackingDjangoInstrumentor().instrument()`` (or ``opentelemetry-instrument``, through the
entry point ``eventtracking_django``) adds ``RequestContextMiddleware`` to ``MIDDLEWARE`` when
Django first loads its middleware, right after ``AuthenticationMiddleware`` so that
``request.user`` is known (last when there is none). Doing it then, rather than at
``instrument()``, means the settings need not be configured yet, which they are not when
``opentelemetry-instrument`` runs before ``wsgi.py`` sets ``DJANGO_SETTINGS_MODULE``. To put the
middleware elsewhere, list ``eventtracking.instrumentation.django.middleware.RequestContextMiddleware``
in ``MIDDLEWARE`` yourself: it is then left where it is. The middleware works with sync and
async views, under WSGI and ASGI; it does nothing while the instrumentor is off.

With OTel's own Django instrumentation, whose middleware comes first, the request context
also lands on the server span as attributes. ``instrument()`` describes the request context
(``register_request_context``): events emitted inside it carry ``context_type_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import wrapt
from django.conf import settings
from django.core.handlers.base import BaseHandler
from eventtracking.instrumentation._instrumentor import FrameworkInstrumentor
from eventtracking.instrumentation.django.package import _instruments
from eventtracking.instrumentation.request_context import register_request_context
from opentelemetry.instrumentation.utils import unwrap

__all__ = ["MIDDLEWARE", "EventTrackingDjangoInstrumentor"]

MIDDLEWARE = "eventtracking.instrumentation.django.middleware.RequestContextMiddleware"
_AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"


class EventTrackingDjangoInstrumentor(FrameworkInstrumentor):
    """An OTel instrumentor that enters a request context for every Django request."""

    _added_to_settings = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        register_request_context()
        wrapt.wrap_function_wrapper(BaseHandler, "load_middleware", self._load_middleware)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(BaseHandler, "load_middleware")
        if self._added_to_settings:
            listed = settings.MIDDLEWARE
            settings.MIDDLEWARE = type(listed)(path for path in listed if path != MIDDLEWARE)
        self._added_to_settings = False

    def _load_middleware(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        """List the middleware in ``MIDDLEWARE`` (once), then let Django load it with the rest."""
        listed = settings.MIDDLEWARE
        if MIDDLEWARE not in listed:
            middleware = list(listed)
            position = middleware.index(_AUTHENTICATION) + 1 if _AUTHENTICATION in middleware else len(middleware)
            middleware.insert(position, MIDDLEWARE)
            settings.MIDDLEWARE = type(listed)(middleware)
            self._added_to_settings = True
        return wrapped(*args, **kwargs)
