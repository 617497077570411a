"""The app config: with ``EVENT_TRACKING_ENABLED``, the default tracker is built when Django starts."""

from django.apps import AppConfig


class EventTrackingConfig(AppConfig):
    """``eventtracking.django``, labelled ``eventtracking_django`` (Django takes the last dotted part otherwise)."""

    name = "eventtracking.django"
    label = "eventtracking_django"
    verbose_name = "Event tracking"

    def ready(self) -> None:
        """Build the default tracker now, so that a bad setting fails at start-up, not at the first event."""
        super().ready()
        from eventtracking.django.django_tracker import override_default_tracker

        override_default_tracker()
