"""URLs of the Django example."""

from django.urls import include, path

from examples.django_app import views

urlpatterns = [
    path("", views.index),
    path("page", views.page),
    # The browser client: /eventtracking/tracker.js and its endpoint /eventtracking/events.
    path("eventtracking/", include("eventtracking.django.urls")),
    path("login", views.login_view),
    path("fail", views.fail),
    path("stream", views.stream),
    path("async", views.async_view),
    path("async-stream", views.async_stream),
]
