"""The Django app ``eventtracking.django``: the default tracker built from Django settings."""

from eventtracking.django.django_tracker import DjangoTracker, SettingsError, override_default_tracker

__all__ = ["DjangoTracker", "SettingsError", "override_default_tracker"]
