"""URLs of the browser client: ``include("eventtracking.django.urls")`` under a prefix of your choice.

Names (namespace ``eventtracking``): ``tracker_js`` (the script) and ``events`` (the endpoint).
"""

from django.urls import path
from eventtracking.django import views

app_name = "eventtracking"
urlpatterns = [
    path("tracker.js", views.tracker_js, name="tracker_js"),
    path("events", views.events, name="events"),
]
