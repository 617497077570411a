"""The browser client for Django: the view that serves ``tracker.js`` and the one that accepts its batches.

Wire them in the project's URLconf::

    path("eventtracking/", include("eventtracking.django.urls")),

and load the client in a template (``{{ csrf_token }}`` also sets Django's CSRF cookie)::

    <script src="{% url 'eventtracking:tracker_js' %}" data-endpoint="{% url 'eventtracking:events' %}"
            data-csrf-token="{{ csrf_token }}"></script>

The endpoint is protected by Django's CSRF machinery (``csrf_protect``, with or without the
middleware): the client sends the token in the ``X-CSRFToken`` header and, for ``sendBeacon``,
which cannot set headers, in the ``csrfmiddlewaretoken`` form field. Limits come from the
``EVENTTRACKING_BROWSER_*`` environment variables, overridden by the setting
``EVENT_TRACKING_BROWSER = {"MAX_BODY_BYTES": ..., "MAX_EVENTS": ..., "NAME_PATTERN": ...}``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST
from eventtracking.browser import Limits, Rejected, batch_text, check_length, emit_batch, parse_events, script
from eventtracking.tracker import get_tracker

__all__ = ["events", "tracker_js"]


def _limits() -> Limits:
    overrides = getattr(settings, "EVENT_TRACKING_BROWSER", None) or {}
    return Limits.from_env(**{key.lower(): value for key, value in overrides.items()})


@require_GET
def tracker_js(request: HttpRequest) -> HttpResponse:
    """The browser client."""
    response = HttpResponse(script(), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@csrf_protect
@require_POST
def events(request: HttpRequest) -> JsonResponse:
    """Accept a batch from the browser client and emit its events through the default tracker."""
    limits = _limits()
    try:
        check_length(request.META.get("CONTENT_LENGTH"), limits)
        text, _ = batch_text(request.body, request.content_type, limits)
        batch = parse_events(text, limits)
        accepted = emit_batch(get_tracker(), batch, lambda: _request_context(request))
    except Rejected as rejected:
        return JsonResponse({"error": rejected.reason}, status=rejected.status)
    return JsonResponse({"accepted": accepted}, status=202)


def _request_context(request: HttpRequest) -> dict[str, Any]:
    """What the instrumentation would have entered for this request (used when it is not active)."""
    from eventtracking.instrumentation.request_context import request_context, user_context

    return {
        **request_context(request.META, path=request.path, cookies=request.COOKIES),
        **user_context(getattr(request, "user", None)),
    }
