"""A tracker whose backends and processors come from Django settings (the original ``DjangoTracker``).

``EVENT_TRACKING_BACKENDS`` maps names to backends and ``EVENT_TRACKING_PROCESSORS`` lists
processors. Any dict with an ``ENGINE`` key, at any depth of either setting (inside dicts,
lists and ``OPTIONS``), is replaced by an instance of the class that ``ENGINE`` names, made
with its ``OPTIONS`` as keyword arguments once those have been built the same way; that is
how routing backends nest.

Unlike the original, which handed a ``ThreadLocalContextLocator`` to the tracker, contexts live
in the OTel Context (the default of ``Tracker``): they are isolated per request across threads
and asyncio tasks, so ASGI and async views work, and they sit on the request's span.

Every mistake fails when the tracker is built, with ``SettingsError`` naming the setting and
the path within it, e.g. ``EVENT_TRACKING_BACKENDS['async']['OPTIONS']['processors'][0]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core import exceptions as django_exceptions
from eventtracking import exceptions, tracker
from eventtracking.backends.routing import RoutingBackend
from eventtracking.tracker import Tracker

__all__ = [
    "DJANGO_BACKEND_SETTING_NAME",
    "DJANGO_ENABLED_SETTING_NAME",
    "DJANGO_PROCESSOR_SETTING_NAME",
    "DjangoTracker",
    "SettingsError",
    "override_default_tracker",
]

DJANGO_BACKEND_SETTING_NAME = "EVENT_TRACKING_BACKENDS"
DJANGO_PROCESSOR_SETTING_NAME = "EVENT_TRACKING_PROCESSORS"
DJANGO_ENABLED_SETTING_NAME = "EVENT_TRACKING_ENABLED"

_ENGINE_KEYS = frozenset({"ENGINE", "OPTIONS"})


class SettingsError(exceptions.ImproperlyConfigured, django_exceptions.ImproperlyConfigured, ValueError):
    """A tracking setting is wrong.

    It is Django's ``ImproperlyConfigured`` (what Django developers catch and what Django reports
    at start-up), this package's, and a ``ValueError`` (what the original raised).
    """


class DjangoTracker(Tracker):
    """A ``Tracker`` built from the Django settings named by the two arguments.

    Other keyword arguments (``context_locator``, ``logger_provider``, ``span_events``) go to
    ``Tracker``.
    """

    def __init__(
        self,
        backends_settings_name: str = DJANGO_BACKEND_SETTING_NAME,
        processors_settings_name: str = DJANGO_PROCESSOR_SETTING_NAME,
        **tracker_options: Any,
    ) -> None:
        backends = self.create_backends_from_settings(backends_settings_name)
        processors = self.create_processors_from_settings(processors_settings_name)
        super().__init__(**tracker_options)
        try:
            for name in sorted(backends):
                path = f"{backends_settings_name}[{name!r}]"
                _name_async_backend(backends[name], name, path)
                with _rejected_as_setting(path, backends[name]):
                    self.routing_backend.register_backend(name, backends[name])
            for index, processor in enumerate(processors):
                with _rejected_as_setting(f"{processors_settings_name}[{index}]", processor):
                    self.routing_backend.register_processor(processor)
        except SettingsError:
            self.close()
            raise

    def create_backends_from_settings(self, settings_name: str) -> dict[str, Any]:
        """The backends by name that the dict setting ``settings_name`` describes."""
        config = getattr(settings, settings_name, None) or {}
        if not isinstance(config, Mapping):
            raise SettingsError(f"{settings_name} must be a dict of backends by name, not {type(config).__name__}.")
        return self._instantiate_objects(dict(config), settings_name)

    def create_processors_from_settings(self, settings_name: str) -> list[Any]:
        """The processors that the list setting ``settings_name`` describes, in order."""
        config = getattr(settings, settings_name, None) or []
        if not isinstance(config, (list, tuple)):
            raise SettingsError(f"{settings_name} must be a list of processors, not {type(config).__name__}.")
        return self._instantiate_objects(list(config), settings_name)

    def _instantiate_objects(self, node: Any, path: str = "") -> Any:
        """``node`` with every dict that has an ``ENGINE`` replaced by the object it describes."""
        if isinstance(node, dict):
            if "ENGINE" in node:
                return self._instantiate_from_dict(node, path)
            return {key: self._instantiate_objects(value, f"{path}[{key!r}]") for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [self._instantiate_objects(child, f"{path}[{index}]") for index, child in enumerate(node)]
        return node

    def _instantiate_from_dict(self, values: dict[str, Any], path: str = "") -> Any:
        """An instance of the ``ENGINE`` class, given its built ``OPTIONS`` as keyword arguments."""
        unknown = sorted(map(str, set(values) - _ENGINE_KEYS))
        if unknown:
            raise SettingsError(
                f"{path}: unknown keys {unknown}; an entry with an ENGINE takes only ENGINE and OPTIONS."
            )
        engine = values["ENGINE"]
        cls = _import_engine(engine, f"{path}['ENGINE']")
        options = values.get("OPTIONS") or {}
        if not isinstance(options, Mapping):
            raise SettingsError(f"{path}['OPTIONS'] must be a dict of keyword arguments, not {type(options).__name__}.")
        options = self._instantiate_objects(dict(options), f"{path}['OPTIONS']")
        try:
            return cls(**options)
        except Exception as error:
            raise SettingsError(f"{path}: {engine}(**OPTIONS) failed: {type(error).__name__}: {error}") from error


@contextmanager
def _rejected_as_setting(path: str, value: Any) -> Iterator[None]:
    """Report the router's ``ValueError`` (not a backend, not callable) as a ``SettingsError`` at ``path``."""
    try:
        yield
    except ValueError as error:
        hint = " It has no 'ENGINE' naming the class to build." if isinstance(value, dict) else ""
        raise SettingsError(f"{path}: {error}{hint}") from error


def _import_engine(engine: Any, path: str) -> Any:
    """The class that the dotted path ``engine`` names."""
    module_name, _, attribute = engine.rpartition(".") if isinstance(engine, str) else ("", "", "")
    if not module_name or not attribute:
        raise SettingsError(f"{path}: {engine!r} is not the dotted path of a class, such as 'package.module.Class'.")
    try:
        module = import_module(module_name)
    except Exception as error:
        raise SettingsError(
            f"{path}: cannot import {module_name!r} for {engine!r}: {type(error).__name__}: {error}"
        ) from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SettingsError(f"{path}: module {module_name!r} has no {attribute!r}.") from None


def _name_async_backend(backend: Any, name: str, path: str) -> None:
    """Give an ``AsyncRoutingBackend`` its key as ``backend_name``, or refuse a different one.

    Its worker looks it up by that name, so a mismatch would deliver through another backend.
    """
    backend_name = getattr(backend, "backend_name", None) if isinstance(backend, RoutingBackend) else None
    if backend_name is None or backend_name == name:
        return
    if backend_name:
        raise SettingsError(
            f"{path}['OPTIONS']['backend_name'] is {backend_name!r}; it must be the backend's key, {name!r}, "
            "since the Celery worker looks the backend up by that name."
        )
    backend.backend_name = name


def override_default_tracker() -> None:
    """With ``EVENT_TRACKING_ENABLED``, make a ``DjangoTracker`` the default tracker (closing the one it replaces)."""
    if not getattr(settings, DJANGO_ENABLED_SETTING_NAME, False):
        return
    previous = tracker.TRACKERS.get(tracker.DEFAULT_TRACKER_NAME)
    tracker.register_tracker(DjangoTracker())
    if previous is not None:
        previous.close()
