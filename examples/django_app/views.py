"""Views of the Django example: each emits an event, which carries the request context.

``page`` serves a page that loads the browser client (``eventtracking.django.urls``), whose
``Tracker.emit`` sends a click on its button to the client's endpoint. The event types are
registered in ``events.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from django.contrib.auth import authenticate, login
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from eventtracking import tracker
from examples.django_app import events  # noqa: F401  (registers the event types)


def index(request: HttpRequest) -> JsonResponse:
    tracker.emit("demo.page.viewed", {"page": "home"})
    return JsonResponse({"ok": True})


def page(request: HttpRequest) -> HttpResponse:
    """A page with a button; the template's ``{{ csrf_token }}`` gives the browser client its token."""
    tracker.emit("demo.page.viewed", {"page": "button"})
    username = request.user.username if request.user.is_authenticated else None
    return render(request, "page.html", {"username": username})


@csrf_exempt
@require_POST
def login_view(request: HttpRequest) -> JsonResponse:
    user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
    if user is None:
        return JsonResponse({"ok": False}, status=401)
    # No database here: keep login() from saving the user's last_login.
    user_logged_in.disconnect(dispatch_uid="update_last_login")
    login(request, user)
    tracker.emit("demo.user.logged_in", {"method": "password"})
    return JsonResponse({"ok": True})


def fail(request: HttpRequest) -> HttpResponse:
    tracker.emit("demo.failure.started", {"reason": "on purpose"})
    raise RuntimeError("this view fails on purpose")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        for number in range(3):
            tracker.emit("demo.stream.chunk", {"number": number})
            yield f"chunk {number}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def async_view(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    tracker.emit("demo.async.viewed", {"page": "async"})
    return JsonResponse({"ok": True})


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[str]:
        for number in range(3):
            await asyncio.sleep(0)
            tracker.emit("demo.stream.chunk", {"number": number})
            yield f"chunk {number}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")
