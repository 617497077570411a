"""Contexts in the OTel Context: baggage, span attributes, isolation, and interleavings with spans."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from eventtracking import diagnostics
from eventtracking.contexts import STACK_KEY
from eventtracking.locator import DefaultContextLocator, ThreadLocalContextLocator


def assert_nothing_left(tracker):
    """No context, no baggage, no stack in the thread's current OTel Context."""
    assert tracker.resolve_context() == {}
    assert dict(baggage.get_all()) == {}
    assert otel_context.get_value(STACK_KEY) is None
    assert dict(tracker.located_context) == {}


def test_entered_keys_are_in_baggage_and_resolve_keeps_their_types(make_tracker):
    tracker = make_tracker()
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ctx = {"user_id": 10938, "name": "ann", "flag": True, "numeric_text": "10", "course": {"id": "c1"}, "at": moment}
    tracker.enter_context("outer", ctx)
    assert dict(baggage.get_all()) == {
        "user_id": "10938",
        "name": "ann",
        "flag": "true",
        "numeric_text": '"10"',
        "course": '{"id":"c1"}',
        "at": '"2026-01-02T03:04:05+00:00"',
    }
    assert tracker.resolve_context() == ctx
    tracker.exit_context("outer")
    assert_nothing_left(tracker)


def test_other_baggage_is_kept(make_tracker):
    tracker = make_tracker()
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    tracker.enter_context("outer", {"user_id": 1})
    assert dict(baggage.get_all()) == {"tenant": "acme", "user_id": "1"}
    tracker.exit_context("outer")
    assert dict(baggage.get_all()) == {"tenant": "acme"}
    otel_context.detach(token)


def test_the_current_recording_span_gets_the_context_as_attributes(make_tracker, tracer):
    sdk_tracer, spans = tracer
    tracker = make_tracker()
    with sdk_tracer.start_as_current_span("request"):
        tracker.enter_context("request", {"user_id": 3, "course": {"id": "c1"}, "missing": None})
        tracker.exit_context("request")
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes) == {"user_id": 3, "course.id": "c1"}


def test_later_context_wins_and_reentering_replaces_in_place(make_tracker):
    tracker = make_tracker()
    tracker.enter_context("a", {"x": 1, "only_a": True})
    tracker.enter_context("b", {"x": 2})
    assert tracker.resolve_context() == {"x": 2, "only_a": True}
    tracker.enter_context("a", {"x": 3})
    assert list(tracker.located_context) == ["a", "b"]
    assert tracker.resolve_context() == {"x": 2}
    tracker.exit_context("b")
    assert tracker.resolve_context() == {"x": 3}
    tracker.exit_context("a")
    assert_nothing_left(tracker)


def test_exiting_a_name_that_is_not_on_top(make_tracker):
    tracker = make_tracker()
    tracker.enter_context("a", {"x": 1, "a": 1})
    tracker.enter_context("b", {"x": 2, "b": 2})
    tracker.exit_context("a")
    assert tracker.resolve_context() == {"x": 2, "b": 2}
    assert dict(baggage.get_all()) == {"x": "2", "b": "2"}
    tracker.exit_context("b")
    assert_nothing_left(tracker)


def test_exiting_a_name_never_entered_is_a_no_op(make_tracker, caplog):
    tracker = make_tracker()
    tracker.enter_context("a", {"x": 1})
    with caplog.at_level(logging.DEBUG, logger="eventtracking.tracker"):
        tracker.exit_context("never")
    assert tracker.resolve_context() == {"x": 1}
    assert "exit_context('never'): no such context is entered here" in caplog.text
    tracker.exit_context("a")
    with pytest.raises(KeyError):
        del tracker.located_context["a"]


def test_with_block_restores_the_exact_previous_context(make_tracker):
    tracker = make_tracker()
    before = otel_context.get_current()
    with tracker.context("block", {"x": 1}):
        assert tracker.resolve_context() == {"x": 1}
    assert otel_context.get_current() is before


def test_unnamed_context_as_in_the_original_readme(make_tracker):
    tracker = make_tracker()
    with tracker.context({"user_id": 11111}):
        (name,) = tracker.located_context
        assert name.startswith("anonymous-")
        assert tracker.resolve_context() == {"user_id": 11111}
    assert_nothing_left(tracker)


def test_context_is_exited_when_the_block_raises(make_tracker):
    tracker = make_tracker()
    with pytest.raises(RuntimeError), tracker.context("block", {"x": 1}):
        raise RuntimeError
    assert_nothing_left(tracker)


def test_threads_do_not_see_each_others_contexts(make_tracker):
    tracker = make_tracker()
    tracker.enter_context("main", {"who": "main"})
    barrier = threading.Barrier(2)
    seen = {}

    def worker(label):
        seen[f"{label}.start"] = tracker.resolve_context()
        tracker.enter_context("worker", {"who": label})
        barrier.wait(timeout=5)
        seen[label] = tracker.resolve_context()
        barrier.wait(timeout=5)
        tracker.exit_context("worker")

    threads = [threading.Thread(target=worker, args=(label,)) for label in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert seen == {"t1.start": {}, "t2.start": {}, "t1": {"who": "t1"}, "t2": {"who": "t2"}}
    assert tracker.resolve_context() == {"who": "main"}
    tracker.exit_context("main")


def test_threads_that_copy_the_context_inherit_it_and_their_exits_stay_local(make_tracker):
    tracker = make_tracker()
    tracker.enter_context("request", {"user_id": 5})

    def child():
        inherited = tracker.resolve_context()
        tracker.exit_context("request")
        tracker.enter_context("job", {"job": 1})
        return inherited, tracker.resolve_context()

    with ThreadPoolExecutor(1) as pool:
        inherited, after = pool.submit(contextvars.copy_context().run, child).result(5)
    assert inherited == {"user_id": 5}
    assert after == {"job": 1}
    assert tracker.resolve_context() == {"user_id": 5}
    tracker.exit_context("request")
    assert_nothing_left(tracker)


def test_asyncio_tasks_are_isolated_and_inherit_from_their_parent(make_tracker):
    tracker = make_tracker()

    async def handle(label, delay):
        inherited = tracker.resolve_context()
        tracker.enter_context("request", {"request": label})
        await asyncio.sleep(delay)
        during = tracker.resolve_context()
        tracker.exit_context("app")
        tracker.exit_context("request")
        return inherited, during

    async def main():
        tracker.enter_context("app", {"app": "demo"})
        results = await asyncio.gather(handle("r1", 0.02), handle("r2", 0.01))
        return results, tracker.resolve_context()

    results, after = asyncio.run(main())
    assert results == [
        ({"app": "demo"}, {"app": "demo", "request": "r1"}),
        ({"app": "demo"}, {"app": "demo", "request": "r2"}),
    ]
    assert after == {"app": "demo"}


def test_context_entered_inside_a_span_and_exited_after_it_ends(make_tracker, tracer):
    sdk_tracer, _spans = tracer
    tracker = make_tracker()
    with sdk_tracer.start_as_current_span("request"):
        tracker.enter_context("inner", {"x": 1})
        assert tracker.resolve_context() == {"x": 1}
    # The span's scope ended, and with it what was entered inside it.
    assert tracker.resolve_context() == {}
    tracker.exit_context("inner")
    assert_nothing_left(tracker)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_context_entered_before_a_span_and_exited_inside_it_stays_exited(make_tracker, tracer, memory_backend):
    sdk_tracer, _ = tracer
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.enter_context("outer", {"x": 1})
    with sdk_tracer.start_as_current_span("request"):
        tracker.exit_context("outer")
        assert tracker.resolve_context() == {}
    # Ending the span restored the Context from before it, which still held "outer".
    tracker.emit("after.span", {})
    assert memory_backend.events[-1]["context"] == {}
    assert_nothing_left(tracker)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_contexts_entered_while_serving_a_request_never_reach_the_next_one(make_tracker, tracer, memory_backend):
    """A worker thread serves two requests, each inside a server span, as OTel instrumentations do."""
    sdk_tracer, _ = tracer
    tracker = make_tracker(backends={"memory": memory_backend})

    def serve(user_id, forget_to_exit):
        with sdk_tracer.start_as_current_span("GET /"):
            tracker.enter_context("request", {"user_id": user_id})
            tracker.enter_context("view", {"view": user_id})
            tracker.emit("page.view", {})
            if not forget_to_exit:
                tracker.exit_context("request")
                tracker.exit_context("view")

    def worker():
        serve(1, forget_to_exit=True)
        tracker.emit("between.requests", {})
        serve(2, forget_to_exit=False)
        tracker.emit("after.requests", {})

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert [(event["name"], event["context"]) for event in memory_backend.events] == [
        ("page.view", {"user_id": 1, "view": 1}),
        ("between.requests", {}),
        ("page.view", {"user_id": 2, "view": 2}),
        ("after.requests", {}),
    ]


def test_spans_started_and_ended_inside_a_context_do_not_disturb_it(make_tracker, tracer):
    sdk_tracer, _ = tracer
    tracker = make_tracker()
    tracker.enter_context("outer", {"x": 1})
    with sdk_tracer.start_as_current_span("db"):
        tracker.enter_context("inner", {"y": 2})
        tracker.exit_context("inner")
    with sdk_tracer.start_as_current_span("cache"):
        pass
    assert tracker.resolve_context() == {"x": 1}
    tracker.exit_context("outer")
    assert_nothing_left(tracker)


def test_process_wide_contexts_are_seen_by_every_thread_beneath_local_ones(make_tracker):
    tracker = make_tracker()
    tracker.enter_context("deployment", {"host": "web-1", "release": "r1"}, process_wide=True)
    try:
        tracker.enter_context("request", {"host": "override"})
        seen = []
        thread = threading.Thread(target=lambda: seen.append(tracker.resolve_context()))
        thread.start()
        thread.join(5)
        assert seen == [{"host": "web-1", "release": "r1"}]
        assert tracker.resolve_context() == {"host": "override", "release": "r1"}
        tracker.exit_context("request")
    finally:
        tracker.exit_context("deployment")
    assert tracker.resolve_context() == {}


def test_located_context_mapping_enters_and_exits(make_tracker):
    tracker = make_tracker()
    tracker.located_context["legacy"] = {"a": 1}
    assert tracker.resolve_context() == {"a": 1}
    assert tracker.located_context["legacy"] == {"a": 1}
    del tracker.located_context["legacy"]
    assert_nothing_left(tracker)


def test_default_context_locator_shares_contexts_across_threads(make_tracker):
    tracker = make_tracker(context_locator=DefaultContextLocator())
    tracker.enter_context("shared", {"a": 1})
    seen = []
    thread = threading.Thread(target=lambda: seen.append(tracker.resolve_context()))
    thread.start()
    thread.join(5)
    assert seen == [{"a": 1}]
    assert dict(baggage.get_all()) == {}
    tracker.exit_context("shared")
    tracker.exit_context("shared")
    assert tracker.resolve_context() == {}


def test_thread_local_context_locator_isolates_threads(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend}, context_locator=ThreadLocalContextLocator())
    tracker.enter_context("mine", {"a": 1})
    seen = []
    thread = threading.Thread(target=lambda: seen.append(tracker.resolve_context()))
    thread.start()
    thread.join(5)
    assert seen == [{}]
    tracker.emit("x", {})
    assert memory_backend.events[0]["context"] == {"a": 1}


def test_baggage_limits_drop_entries_with_a_warning_but_events_keep_them(make_tracker, memory_backend, caplog):
    tracker = make_tracker(backends={"memory": memory_backend})
    big = "x" * 5000
    many = {f"k{index}": index for index in range(70)}
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        tracker.enter_context("big", {"big": big, "bad key": 1, **many})
    entries = baggage.get_all()
    assert "big" not in entries and "bad key" not in entries
    assert len(entries) == 64
    assert "exceeds the W3C baggage limits" in caplog.text
    assert "is not a W3C baggage key" in caplog.text
    assert diagnostics.counts()["baggage_oversize"] == 7
    tracker.emit("x", {})
    assert memory_backend.events[0]["context"]["big"] == big
    assert memory_backend.events[0]["context"]["bad key"] == 1
    tracker.exit_context("big")
