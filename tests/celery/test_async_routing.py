"""AsyncRoutingBackend through a real Celery worker and Redis: filtering, delivery, retries, broker failures."""

from __future__ import annotations

import datetime
import json
import logging
import socket
import time
import uuid

import pytest
from opentelemetry.sdk._logs import LoggerProvider

from eventtracking import diagnostics
from eventtracking.backends.async_routing import AsyncRoutingBackend
from eventtracking.registry import METADATA_EVENT_NAME, is_metadata
from eventtracking.tasks import decode_event
from eventtracking.tracker import Tracker
from tests.celery import worker_config
from tests.celery.support import current_celery_app, django_tracker, producer_for, wait_until
from tests.django_app.engines import Recorder
from tests.event_types.schema_check import assert_valid_events

pytestmark = pytest.mark.timeout(60)

DELIVERY_TIMEOUT = 15
COURSE = {"course_id": "course-v1:edX+DemoX+Demo_Course", "user_id": 42}


def _marker() -> str:
    return uuid.uuid4().hex


def _memorized(tracker: Tracker) -> Recorder:
    """A synchronous backend beside the async ones: the events as the producer made them."""
    memory = Recorder()
    tracker.routing_backend.register_backend("zz_memory", memory)
    return memory


def _logged(worker, marker: str) -> list[dict]:
    """The events marked ``marker`` in the worker's ``tracking`` log (other tests' events and metadata aside)."""
    events = [json.loads(line) for line in worker.lines("tracking.log")]
    return [event for event in events if event["data"].get("marker") == marker]


def test_the_documented_configuration_delivers_only_the_allowed_event(producer, worker):
    marker = _marker()
    memory = _memorized(producer)

    with producer.context("course", COURSE):
        producer.emit("edx.course.enrollment.deactivated", {"marker": marker, "mode": "audit"})
        producer.emit("edx.course.enrollment.activated", {"marker": marker, "mode": "verified"})

    # One worker takes the queue in order: had the first event been enqueued, it would be logged first.
    logged = wait_until(lambda: _logged(worker, marker), DELIVERY_TIMEOUT, "the event in the worker's log")
    activated = memory.events[1]
    assert activated["name"] == "edx.course.enrollment.activated"
    assert logged == [
        {
            "name": "edx.course.enrollment.activated",
            "timestamp": activated["timestamp"].isoformat(),
            "context": COURSE,
            "data": {"marker": marker, "mode": "verified"},
        }
    ]


def test_the_metadata_of_a_type_the_filter_drops_still_reaches_the_worker(producer, worker):
    marker = _marker()
    memory = _memorized(producer)
    # The documented allowlist lets only edx.course.enrollment.activated through...
    dropped = producer.register(f"test.filtered.{marker}", "An event the allowlist drops.", {"marker": "The test."})
    producer.emit(f"test.filtered.{marker}", {"marker": marker})
    producer.emit("edx.course.enrollment.activated", {"marker": marker})

    # ...and its metadata record goes around it, enqueued before the events: logged before the allowed event.
    wait_until(lambda: _logged(worker, marker), DELIVERY_TIMEOUT, "the allowed event in the worker's log")
    logged = [json.loads(line) for line in worker.lines("tracking.log")]
    mine = [event for event in logged if event["data"].get("marker") == marker or event["data"].get("id") == dropped.id]
    assert [event["name"] for event in mine] == [METADATA_EVENT_NAME, "edx.course.enrollment.activated"]
    (sent,) = [event for event in memory.events if is_metadata(event)]
    assert mine[0] == {
        "name": METADATA_EVENT_NAME,
        "timestamp": sent["timestamp"].isoformat(),
        "context": {},
        "data": dropped.as_data(),
    }
    assert assert_valid_events(mine) == 2


def test_a_failing_nested_backend_is_retried_alone_until_it_delivers(producer, worker):
    marker = _marker()
    memory = _memorized(producer)
    enrolled_at = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))

    with producer.context("course", COURSE):
        producer.emit("test.retry.enrolled", {"marker": marker, "enrolled_at": enrolled_at, "tags": {"b", "a"}})

    wait_until(
        lambda: any(record["delivered"] for record in worker.records("flaky.jsonl", marker)),
        DELIVERY_TIMEOUT,
        "the flaky backend to deliver",
    )
    flaky = worker.records("flaky.jsonl", marker)
    attempts = [(record["attempt"], record["delivered"]) for record in flaky]
    assert attempts == [(1, False), (2, False), (3, True)]
    assert [(record["attempt"], record["delivered"]) for record in worker.records("steady.jsonl", marker)] == [
        (1, True)
    ], "the backend that took the event at once is not sent it again"

    delivered = flaky[-1]
    assert (delivered["timestamp_type"], delivered["utc_offset"]) == ("datetime", 0.0)
    assert delivered["event"] == {
        "name": "test.retry.enrolled",
        "timestamp": memory.events[0]["timestamp"].isoformat(),
        "context": COURSE,
        # Other values follow the portable rule on the wire: datetimes in UTC ISO-8601, sets as sorted lists.
        "data": {"marker": marker, "enrolled_at": "2024-05-01T10:30:00+00:00", "tags": ["a", "b"]},
    }
    assert "Retry in 0.2s" in worker.log_text()


def test_a_backend_that_always_fails_is_retried_the_configured_times_then_logged(producer, worker):
    marker = _marker()
    producer.emit(f"test.fail.{marker}", {"marker": marker})

    gave_up = (
        f"Gave up after {worker_config.MAX_RETRIES} retries: Event 'test.fail.{marker}' was not delivered by "
        "backend 'failing' to: broken"
    )
    wait_until(lambda: gave_up in worker.log_text(), DELIVERY_TIMEOUT, "the worker to give up")
    wait_until(
        lambda: f"DeliveryFailed: Event 'test.fail.{marker}'" in worker.log_text(),
        DELIVERY_TIMEOUT,
        "the task to fail",
    )
    time.sleep(3 * worker_config.RETRY_COUNTDOWN)  # time enough for one more retry, which must not come
    attempts = [record["attempt"] for record in worker.records("broken.jsonl", marker)]
    assert attempts == list(range(1, worker_config.MAX_RETRIES + 2))


def test_a_prefork_worker_process_delivers_what_its_exporters_buffer_before_it_exits(start_worker):
    worker = start_worker("prefork")
    marker = _marker()
    with producer_for(worker) as producer:
        producer.emit("test.batch.flushed", {"marker": marker})
    wait_until(
        lambda: "eventtracking.tasks.send_event" in worker.log_text() and " succeeded in " in worker.log_text(),
        DELIVERY_TIMEOUT,
        "the task to run",
    )
    assert worker.lines("batched.log") == [], "the batch waits for its schedule"

    worker.stop()

    [line] = worker.lines("batched.log")
    assert (json.loads(line)["name"], json.loads(line)["data"]) == ("test.batch.flushed", {"marker": marker})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_down():
    """A Celery app whose broker (and result backend) refuses connections; it tries once per publish."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    config = {**worker_config.celery_config("unused", url), "broker_transport_options": {"max_retries": 0}}
    with current_celery_app(config) as app:
        yield app


ENQUEUE_RETRY_SECONDS = 0.3


def _async_backends(sync_fallback: bool) -> dict:
    entry = worker_config.async_backend(
        "async", r"kept\.", {"recorder": {"ENGINE": "tests.django_app.engines.Recorder"}}
    )
    entry["OPTIONS"] |= {"sync_fallback": sync_fallback, "enqueue_retry_seconds": ENQUEUE_RETRY_SECONDS}
    return {"async": entry}


@pytest.mark.parametrize("sync_fallback", [True, False])
def test_when_the_broker_is_down_emit_does_not_fail_and_events_are_delivered_here_or_dropped(
    broker_down, caplog, sync_fallback
):
    caplog.set_level(logging.WARNING, logger="eventtracking")
    with django_tracker(_async_backends(sync_fallback)) as producer:
        producer.emit("kept.first", {"n": 1})
        producer.emit("kept.second", {"n": 2})  # in the pause: the broker is not tried
        producer.emit("filtered.out", {"n": 3})
        time.sleep(ENQUEUE_RETRY_SECONDS)
        producer.emit("kept.third", {"n": 4})  # after the pause: tried again
        recorder = producer.get_backend("async").backends["recorder"]

    kept = ["kept.first", "kept.second", "kept.third"]
    assert [event["name"] for event in recorder.events] == (kept if sync_fallback else [])
    counts = diagnostics.counts()
    assert (counts.get("async_enqueue_error"), counts.get("async_enqueue_skipped")) == (2, 1)
    assert counts.get("async_enqueue_dropped") == (None if sync_fallback else 3)
    action = "delivering it synchronously" if sync_fallback else "dropping it"
    assert (
        "AsyncRoutingBackend 'async' could not enqueue event 'kept.first' (OperationalError: Error 111 connecting "
        in caplog.text
    )
    assert f"; {action} (and the events of the next {ENQUEUE_RETRY_SECONDS} seconds)." in caplog.text


def test_metadata_records_go_around_the_processors_when_delivered_here(broker_down):
    with django_tracker(_async_backends(sync_fallback=True)) as producer:
        played = producer.register("filtered.played", "A type the allowlist drops.", {"n": "A number."})
        producer.emit("filtered.played", {"n": 1})
        recorder = producer.get_backend("async").backends["recorder"]

    assert [(event["name"], event["data"]) for event in recorder.events] == [(METADATA_EVENT_NAME, played.as_data())]
    assert diagnostics.counts().get("async_enqueue_error") == 1


def test_as_a_log_record_processor_it_enqueues_rather_than_delivering_here(broker_down, make_tracker):
    recorder = Recorder()
    backend = AsyncRoutingBackend(backends={"recorder": recorder}, backend_name="async", sync_fallback=False)
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(backend)
    producer = make_tracker(logger_provider=provider)

    producer.emit("kept.event", {"n": 1})

    assert recorder.events == []
    assert diagnostics.counts().get("async_enqueue_error") == 1
    provider.shutdown()


def test_a_timestamp_that_is_not_iso_8601_is_passed_on_as_it_came(caplog):
    assert decode_event({"name": "odd", "timestamp": "yesterday"})["timestamp"] == "yesterday"
    assert "Event 'odd' has a timestamp that is not ISO-8601: 'yesterday'" in caplog.text
