"""The Django middleware that enters and exits the request context (added by the instrumentor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from eventtracking.instrumentation.django import EventTrackingDjangoInstrumentor
from eventtracking.instrumentation.request_context import (
    enter_request_context,
    exit_request_context,
    in_request_context,
    request_context,
    session_context,
    user_context_from,
    user_context_from_async,
)

from eventtracking.tracker import Tracker, get_tracker

__all__ = ["RequestContextMiddleware"]


class RequestContextMiddleware:
    """Enter the request context before the rest of the chain runs, exit it when the response is done.

    A streamed response exits it when the server closes the response, and streams in the
    request's OTel Context; any other response exits it as soon as the chain returns.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if not EventTrackingDjangoInstrumentor().is_instrumented_by_opentelemetry:
            return self.get_response(request)
        tracker = get_tracker()
        enter_request_context(tracker, {**_context_of(request), **_user_context_of(request)})
        try:
            response = self.get_response(request)
        except BaseException:
            exit_request_context(tracker)
            raise
        return _finish(tracker, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        if not EventTrackingDjangoInstrumentor().is_instrumented_by_opentelemetry:
            return await get_response(request)
        auser = getattr(request, "auser", None)
        if auser is None:  # Django 4.2, or a custom authentication middleware: request.user may query the database
            user_fields = await sync_to_async(_user_context_of)(request)
        else:
            user_fields = await user_context_from_async(auser, "request.auser()")
        tracker = get_tracker()
        enter_request_context(tracker, {**_context_of(request), **user_fields})
        try:
            response = await get_response(request)
        except BaseException:
            exit_request_context(tracker)
            raise
        return _finish(tracker, response)


def _context_of(request: HttpRequest) -> dict[str, Any]:
    session = getattr(request, "session", None)
    return {
        **request_context(request.META, path=request.path, cookies=request.COOKIES),
        **session_context(getattr(session, "session_key", None), settings.SECRET_KEY),
    }


def _user_context_of(request: HttpRequest) -> dict[str, Any]:
    return user_context_from(lambda: getattr(request, "user", None), "request.user")


def _finish(tracker: Tracker, response: HttpResponseBase) -> HttpResponseBase:
    # A FileResponse streams a file through the server's wsgi.file_wrapper, which wrapping would defeat.
    if response.streaming and getattr(response, "file_to_stream", None) is None:
        response.streaming_content = in_request_context(response.streaming_content, tracker)
    else:
        exit_request_context(tracker)
    return response
