"""The logging exporter and the original LoggerBackend / DateTimeJSONEncoder on top of it."""

from __future__ import annotations

import datetime
import json
import logging
import threading

import pytest
from eventtracking.exporters.logger import LoggingLogExporter

from eventtracking import diagnostics
from eventtracking.backends.logger import DateTimeJSONEncoder, LoggerBackend
from eventtracking.environment import load_exporter
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.registry import describe, metadata_event

EST = datetime.timezone(datetime.timedelta(hours=-5))


def lines(caplog, logger_name):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == logger_name]


def test_exporter_writes_one_json_line_per_event_off_the_callers_thread(make_tracker, caplog):
    caplog.set_level(logging.INFO, logger="app.events")
    threads = []
    handler = logging.Handler()
    handler.emit = lambda record: threads.append(threading.get_ident())
    logging.getLogger("app.events").addHandler(handler)
    try:
        tracker = make_tracker(backends={"log": LoggingLogExporter(name="app.events")})
        with tracker.context("request", {"user_id": 1}):
            tracker.emit("a", {"when": datetime.datetime(2026, 1, 1, 7, 0, tzinfo=EST)})
            tracker.emit("b", {})
        tracker.flush()
    finally:
        logging.getLogger("app.events").removeHandler(handler)
    written = lines(caplog, "app.events")
    assert [(line["name"], line["context"]) for line in written] == [("a", {"user_id": 1}), ("b", {"user_id": 1})]
    assert written[0]["data"] == {"when": "2026-01-01T12:00:00+00:00"}
    assert list(written[0]) == ["name", "timestamp", "data", "context"]
    assert threading.get_ident() not in threads and len(threads) == 2


def test_entry_point_builds_the_exporter_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_LOGGER_NAME", "from.env")
    monkeypatch.setenv("EVENTTRACKING_LOGGER_LEVEL", "warning")
    monkeypatch.setenv("EVENTTRACKING_LOGGER_MAX_EVENT_SIZE", "2048")
    exporter = load_exporter("eventtracking_logger")
    assert isinstance(exporter, LoggingLogExporter)
    assert (exporter.event_logger.name, exporter.level, exporter.max_event_size) == ("from.env", logging.WARNING, 2048)


def test_oversize_events_are_truncated_with_a_warning_never_dropped_silently(caplog):
    caplog.set_level(logging.INFO)
    exporter = LoggingLogExporter(name="sized", max_event_size=200)
    exporter.write({"name": "big", "timestamp": datetime.datetime(2026, 1, 1), "context": {}, "data": {"x": "y" * 500}})
    (line,) = lines(caplog, "sized")
    assert line["name"] == "big"
    assert line["data"]["eventtracking_truncated"] is True
    assert line["data"]["original_size"] > 500
    assert "over max_event_size=200: logged without its data" in caplog.text
    assert diagnostics.counts()["oversize_event"] == 1


def test_metadata_records_are_written_whole_whatever_max_event_size(caplog):
    caplog.set_level(logging.INFO)
    fields = {f"field_{number}": "A field documented at length. " * 5 for number in range(12)}
    metadata = describe("context", "big.context", "A context with many documented fields.", fields)
    record = metadata_event(metadata, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    LoggingLogExporter(name="documented", max_event_size=200).write(record)
    (line,) = lines(caplog, "documented")
    assert line["data"] == metadata.as_data()
    assert "oversize_event" not in diagnostics.counts()


def test_drop_policy_and_huge_contexts_are_dropped_with_a_warning(caplog):
    caplog.set_level(logging.INFO)
    event = {"name": "big", "timestamp": datetime.datetime(2026, 1, 1), "context": {}, "data": {"x": "y" * 500}}
    LoggingLogExporter(name="dropper", max_event_size=100, on_oversize="drop").write(event)
    LoggingLogExporter(name="dropper", max_event_size=100).write({**event, "context": {"c": "z" * 500}})
    assert lines(caplog, "dropper") == []
    assert diagnostics.counts()["oversize_event_dropped"] == 2
    assert "dropped" in caplog.text


def test_no_limit():
    assert LoggingLogExporter(max_event_size=None).max_event_size is None
    assert LoggingLogExporter(max_event_size=0).max_event_size is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "loud"}, "not a logging level"),
        ({"max_event_size": "big"}, "max_event_size"),
        ({"on_oversize": "explode"}, "on_oversize"),
    ],
)
def test_bad_options_fail_at_construction(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        LoggingLogExporter(**kwargs)


def test_logger_backend_logs_synchronously_with_the_original_defaults(make_tracker, caplog):
    caplog.set_level(logging.INFO)
    backend = LoggerBackend()
    assert backend.event_logger is logging.getLogger() and backend.max_event_size == 1024
    tracker = make_tracker(backends={"log": LoggerBackend(name="seed.events", level="warning")})
    tracker.emit("a", {"n": 1})
    (record,) = [r for r in caplog.records if r.name == "seed.events"]
    assert record.levelno == logging.WARNING
    assert json.loads(record.getMessage())["data"] == {"n": 1}


def test_datetime_json_encoder():
    naive = datetime.datetime(2026, 1, 1, 12, 0)
    value = {"naive": naive, "aware": datetime.datetime(2026, 1, 1, 7, 0, tzinfo=EST), "day": datetime.date(2026, 1, 1)}
    assert json.loads(json.dumps(value, cls=DateTimeJSONEncoder)) == {
        "naive": "2026-01-01T12:00:00+00:00",
        "aware": "2026-01-01T12:00:00+00:00",
        "day": "2026-01-01",
    }
    assert json.dumps({"s": {3}}, cls=DateTimeJSONEncoder) == '{"s": [3]}'


def test_events_can_go_to_a_json_lines_file(make_tracker, tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    monkeypatch.setenv("EVENTTRACKING_LOGGER_FILE", str(path))
    tracker = make_tracker(backends={"log": LoggingLogExporter(name="file.events")})
    tracker.emit("a", {"n": 1})
    tracker.emit("b", {"n": 2})
    tracker.flush()
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(event["name"], event["data"]) for event in written] == [("a", {"n": 1}), ("b", {"n": 2})]
    assert logging.getLogger("file.events").propagate is False
    with pytest.raises(ImproperlyConfigured, match="cannot write events"):
        LoggingLogExporter(name="other", file=str(tmp_path / "missing" / "dir" / "x.jsonl"))


def test_a_logger_without_handlers_is_reported_once(caplog):
    exporter = LoggingLogExporter(name="lonely.events")
    logging.getLogger("lonely.events").propagate = False
    try:
        with caplog.at_level(logging.WARNING, logger="eventtracking"):
            exporter.write({"name": "a", "timestamp": None, "context": {}, "data": {}})
            exporter.write({"name": "b", "timestamp": None, "context": {}, "data": {}})
    finally:
        logging.getLogger("lonely.events").propagate = True
    assert caplog.text.count("which has no handlers") == 1
