"""DjangoTracker: the pipeline built from EVENT_TRACKING_* settings, and every way a setting can be wrong."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured as DjangoImproperlyConfigured

from eventtracking import tracker
from eventtracking.backends.async_routing import AsyncRoutingBackend
from eventtracking.backends.logger import LoggerBackend
from eventtracking.django import DjangoTracker, SettingsError, override_default_tracker
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.processors.regex_filter import RegexFilter
from tests.django_app.engines import Recorder
from tests.django_app.support import documented_async_backends, tracking_settings

RECORDER = "tests.django_app.engines.Recorder"
ROUTING = "eventtracking.backends.routing.RoutingBackend"
REGEX_FILTER = "eventtracking.processors.regex_filter.RegexFilter"
WHITELIST = "eventtracking.processors.whitelist.NameWhitelistProcessor"


@pytest.fixture
def build():
    """Build DjangoTrackers under overridden settings; closed after the test."""
    made: list[DjangoTracker] = []

    def make(*args, **settings) -> DjangoTracker:
        with tracking_settings(**settings):
            made.append(DjangoTracker(*args))
        return made[-1]

    yield make
    for built in made:
        built.close()


def test_the_documented_async_configuration_builds_as_written(build):
    built = build(EVENT_TRACKING_BACKENDS=documented_async_backends())

    backend = built.get_backend("async_routing_backend")
    assert type(backend) is AsyncRoutingBackend
    assert backend.backend_name == "async_routing_backend"
    [regex_filter] = backend.processors
    assert type(regex_filter) is RegexFilter
    assert regex_filter.filter_type == "allowlist"
    assert regex_filter.regular_expressions == {r"edx\.course\.enrollment\.activated"}
    logger = backend.backends["logger"]
    assert type(logger) is LoggerBackend
    assert logger.event_logger.name == "tracking"
    assert logger.max_event_size == 50000


def test_nested_routing_backends_and_processors_deliver_what_they_select(build):
    built = build(
        EVENT_TRACKING_PROCESSORS=[{"ENGINE": WHITELIST, "OPTIONS": {"whitelist": ["course.enrolled", "page.viewed"]}}],
        EVENT_TRACKING_BACKENDS={
            "everything": {"ENGINE": RECORDER},
            "courses": {
                "ENGINE": ROUTING,
                "OPTIONS": {
                    "processors": [{"ENGINE": REGEX_FILTER, "OPTIONS": {"regular_expressions": [r"course\."]}}],
                    "backends": {
                        "direct": {"ENGINE": RECORDER},
                        "inner": {"ENGINE": ROUTING, "OPTIONS": {"backends": {"deep": {"ENGINE": RECORDER}}}},
                    },
                },
            },
        },
    )
    assert list(built.backends) == ["courses", "everything"]

    built.emit("course.enrolled", {"course_id": "c1"})
    built.emit("page.viewed", {"path": "/"})
    built.emit("not.whitelisted", {})

    courses = built.get_backend("courses")
    enrolled = ("course.enrolled", {"course_id": "c1"})
    assert _received(built.get_backend("everything")) == [enrolled, ("page.viewed", {"path": "/"})]
    assert _received(courses.backends["direct"]) == [enrolled]
    assert _received(courses.backends["inner"].backends["deep"]) == [enrolled]


def _received(backend: Recorder) -> list[tuple[str, dict]]:
    return [(event["name"], event["data"]) for event in backend.events]


def test_engine_dicts_are_built_at_any_depth_of_dicts_lists_and_options(build):
    built = build()
    tree = {
        "a": {
            "b": {"first": {"ENGINE": RECORDER, "OPTIONS": {"size": 10, "foo": "bar"}}},
            "c": ({"ENGINE": RECORDER, "OPTIONS": {"more": {"d": {"ENGINE": RECORDER}}}}, "plain", 3),
        }
    }

    root = built._instantiate_objects(tree)

    first = root["a"]["b"]["first"]
    assert type(first) is Recorder
    assert first.options == {"size": 10, "foo": "bar"}
    second, plain, number = root["a"]["c"]
    assert type(second) is Recorder
    assert type(second.options["more"]["d"]) is Recorder
    assert (plain, number) == ("plain", 3)
    assert tree["a"]["b"]["first"]["ENGINE"] == RECORDER, "the settings themselves are left as they were"


def test_missing_settings_give_a_tracker_without_backends_or_processors(build):
    built = build()
    assert dict(built.backends) == {}
    assert built.processors == []


def test_other_setting_names_can_be_given(build):
    built = build("MY_BACKENDS", "MY_PROCESSORS", MY_BACKENDS={"mine": {"ENGINE": RECORDER}}, MY_PROCESSORS=[])
    assert list(built.backends) == ["mine"]

    with pytest.raises(SettingsError, match=r"^MY_BACKENDS\['bad'\]\['ENGINE'\]"):
        build("MY_BACKENDS", MY_BACKENDS={"bad": {"ENGINE": "no.such.Engine"}})


@pytest.mark.parametrize("enabled", [{"EVENT_TRACKING_ENABLED": False}, {}], ids=["false", "unset"])
def test_without_event_tracking_enabled_the_default_tracker_is_left_alone(enabled):
    with tracking_settings(EVENT_TRACKING_BACKENDS={"recorder": {"ENGINE": RECORDER}}, **enabled):
        override_default_tracker()
    assert not isinstance(tracker.get_tracker(), DjangoTracker)


def test_with_event_tracking_enabled_the_default_tracker_comes_from_settings_and_replaces_the_last():
    with tracking_settings(EVENT_TRACKING_ENABLED=True, EVENT_TRACKING_BACKENDS={"recorder": {"ENGINE": RECORDER}}):
        override_default_tracker()
        first = tracker.get_tracker()
        override_default_tracker()
    second = tracker.get_tracker()

    assert isinstance(first, DjangoTracker)
    assert isinstance(second, DjangoTracker)
    assert second is not first
    assert first.get_backend("recorder").shut_down, "the replaced tracker is closed"
    assert not second.get_backend("recorder").shut_down

    tracker.emit("course.enrolled", {"course_id": "c1"})
    assert [event["name"] for event in second.get_backend("recorder").events] == ["course.enrolled"]
    assert first.get_backend("recorder").events == []


def test_contexts_live_in_the_otel_context_isolated_per_thread_and_task(build):
    built = build(EVENT_TRACKING_BACKENDS={"recorder": {"ENGINE": RECORDER}})
    recorder = built.get_backend("recorder")

    built.enter_context("request", {"user_id": 1})
    other_thread = threading.Thread(target=built.emit, args=("from.thread", {}))
    other_thread.start()
    other_thread.join(timeout=5)

    async def request(user_id: int) -> None:
        built.enter_context("request", {"user_id": user_id})
        await asyncio.sleep(0.01)
        built.emit("from.task", {"user_id": user_id})

    async def serve() -> None:
        await asyncio.gather(request(2), request(3))

    asyncio.run(serve())
    built.emit("from.main", {})

    contexts = [(event["name"], event["data"].get("user_id"), event["context"]) for event in recorder.events]
    assert contexts == [
        ("from.thread", None, {}),
        ("from.task", 2, {"user_id": 2}),
        ("from.task", 3, {"user_id": 3}),
        ("from.main", None, {"user_id": 1}),
    ]


def test_an_async_backend_without_backend_name_is_named_by_its_key(build):
    built = build(
        EVENT_TRACKING_BACKENDS={"async": {"ENGINE": "eventtracking.backends.async_routing.AsyncRoutingBackend"}}
    )
    assert built.get_backend("async").backend_name == "async"


def _bad_regex_in_documented_config() -> dict:
    backends = documented_async_backends()
    backends["async_routing_backend"]["OPTIONS"]["processors"][0]["OPTIONS"]["regular_expressions"] = ["edx.(course"]
    return backends


BACKENDS = "EVENT_TRACKING_BACKENDS"
PROCESSORS = "EVENT_TRACKING_PROCESSORS"
ERRORS = {
    "module not found": (
        BACKENDS,
        {"invalid_package": {"ENGINE": "foo.BarBackend"}},
        "EVENT_TRACKING_BACKENDS['invalid_package']['ENGINE']: cannot import 'foo' for 'foo.BarBackend'",
    ),
    "no module part": (
        BACKENDS,
        {"no_package": {"ENGINE": "BarBackend"}},
        "EVENT_TRACKING_BACKENDS['no_package']['ENGINE']: 'BarBackend' is not the dotted path of a class",
    ),
    "empty engine": (
        BACKENDS,
        {"empty": {"ENGINE": ""}},
        "EVENT_TRACKING_BACKENDS['empty']['ENGINE']: '' is not the dotted path of a class",
    ),
    "engine not a string": (
        BACKENDS,
        {"number": {"ENGINE": 42}},
        "EVENT_TRACKING_BACKENDS['number']['ENGINE']: 42 is not the dotted path of a class",
    ),
    "class not found": (
        BACKENDS,
        {"invalid_class": {"ENGINE": "eventtracking.backends.logger.NoSuchBackend"}},
        "EVENT_TRACKING_BACKENDS['invalid_class']['ENGINE']: module 'eventtracking.backends.logger' has no "
        "'NoSuchBackend'",
    ),
    "unknown option (TypeError)": (
        BACKENDS,
        {
            "routing": {
                "ENGINE": ROUTING,
                "OPTIONS": {"processors": [{"ENGINE": REGEX_FILTER, "OPTIONS": {"regex": []}}]},
            }
        },
        "EVENT_TRACKING_BACKENDS['routing']['OPTIONS']['processors'][0]: "
        "eventtracking.processors.regex_filter.RegexFilter(**OPTIONS) failed: TypeError:",
    ),
    "bad option value (ImproperlyConfigured)": (
        PROCESSORS,
        [{"ENGINE": REGEX_FILTER, "OPTIONS": {"filter_type": "greylist"}}],
        "EVENT_TRACKING_PROCESSORS[0]: eventtracking.processors.regex_filter.RegexFilter(**OPTIONS) failed: "
        "ImproperlyConfigured: RegexFilter: filter_type 'greylist' is not supported",
    ),
    "bad option value (ValueError)": (
        BACKENDS,
        {"routing": {"ENGINE": ROUTING, "OPTIONS": {"backends": {"not_a_backend": "just a string"}}}},
        "EVENT_TRACKING_BACKENDS['routing']: eventtracking.backends.routing.RoutingBackend(**OPTIONS) failed: "
        'ValueError: Backend str has no callable "send", "on_emit" or "export" method.',
    ),
    "bad regex in the documented config": (
        BACKENDS,
        _bad_regex_in_documented_config(),
        "EVENT_TRACKING_BACKENDS['async_routing_backend']['OPTIONS']['processors'][0]: "
        "eventtracking.processors.regex_filter.RegexFilter(**OPTIONS) failed: ImproperlyConfigured: "
        "RegexFilter: invalid regular expressions: 'edx.(course'",
    ),
    "options not a dict": (
        BACKENDS,
        {"logger": {"ENGINE": "eventtracking.backends.logger.LoggerBackend", "OPTIONS": ["name", "tracking"]}},
        "EVENT_TRACKING_BACKENDS['logger']['OPTIONS'] must be a dict of keyword arguments, not list.",
    ),
    "misspelt OPTIONS": (
        BACKENDS,
        {"logger": {"ENGINE": "eventtracking.backends.logger.LoggerBackend", "OPTION": {"name": "tracking"}}},
        "EVENT_TRACKING_BACKENDS['logger']: unknown keys ['OPTION']; an entry with an ENGINE takes only ENGINE "
        "and OPTIONS.",
    ),
    "backend without ENGINE": (
        BACKENDS,
        {"no_engine": {"OPTIONS": {}}},
        'EVENT_TRACKING_BACKENDS[\'no_engine\']: Backend dict has no callable "send", "on_emit" or "export" '
        "method. It has no 'ENGINE' naming the class to build.",
    ),
    "processor that is not callable": (
        PROCESSORS,
        [{"ENGINE": "tests.django_app.engines.NotCallable"}],
        "EVENT_TRACKING_PROCESSORS[0]: Processor NotCallable is not callable.",
    ),
    "backends not a dict": (
        BACKENDS,
        [{"ENGINE": RECORDER}],
        "EVENT_TRACKING_BACKENDS must be a dict of backends by name, not list.",
    ),
    "processors not a list": (
        PROCESSORS,
        {"whitelist": {"ENGINE": WHITELIST}},
        "EVENT_TRACKING_PROCESSORS must be a list of processors, not dict.",
    ),
    "async backend named differently from its key": (
        BACKENDS,
        {"async": {**documented_async_backends()["async_routing_backend"]}},
        "EVENT_TRACKING_BACKENDS['async']['OPTIONS']['backend_name'] is 'async_routing_backend'; it must be the "
        "backend's key, 'async'",
    ),
}


@pytest.mark.parametrize(("setting", "value", "message"), list(ERRORS.values()), ids=list(ERRORS))
def test_a_wrong_setting_fails_at_construction_naming_the_setting_and_path(build, setting, value, message):
    with pytest.raises(SettingsError) as raised:
        build(**{setting: value})

    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, DjangoImproperlyConfigured)
    assert isinstance(raised.value, ImproperlyConfigured)
    assert isinstance(raised.value, ValueError), "the original raised ValueError"


def test_a_wrong_backend_after_good_ones_shuts_the_good_ones_down():
    Recorder.instances.clear()
    with tracking_settings(EVENT_TRACKING_BACKENDS={"a_good": {"ENGINE": RECORDER}, "b_bad": {"OPTIONS": {}}}):
        with pytest.raises(SettingsError, match=r"^EVENT_TRACKING_BACKENDS\['b_bad'\]"):
            DjangoTracker()
    [good] = Recorder.instances
    assert good.shut_down
