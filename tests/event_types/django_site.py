"""The URLconf of the Django tests: a page that hands out the CSRF token, and the browser client's URLs."""

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import include, path


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f'<script data-csrf-token="{get_token(request)}"></script>')


urlpatterns = [
    path("", page),
    path("eventtracking/", include("eventtracking.django.urls")),
]
