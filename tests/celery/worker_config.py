"""What the test process (the producer) and the Celery worker it starts share: broker, queue, settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.django_app.support import documented_async_backends

# Broker and result backend; the db number is this suite's own, the queue is unique per run.
REDIS_URL = os.environ.get("EVENTTRACKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# How the test process tells the worker where to write and which queue to serve.
OUT_DIR_ENV = "EVENTTRACKING_TEST_CELERY_DIR"
QUEUE_ENV = "EVENTTRACKING_TEST_CELERY_QUEUE"

# The worker retries twice (not the default 3), to show that the variable is read.
MAX_RETRIES = 2
RETRY_COUNTDOWN = 0.2
FLAKY_FAILURES = 2
ASYNC_ENGINE = "eventtracking.backends.async_routing.AsyncRoutingBackend"
FLAKY_ENGINE = "tests.celery.engines.FlakyBackend"


def celery_config(queue: str, broker_url: str = REDIS_URL) -> dict[str, Any]:
    """The Celery settings of both sides: tasks go to ``queue`` only."""
    return {
        "broker_url": broker_url,
        "result_backend": broker_url,
        "result_expires": 300,
        "task_default_queue": queue,
        "broker_connection_retry_on_startup": True,
        "worker_enable_remote_control": False,
    }


def async_backend(name: str, allow: str, backends: dict[str, Any]) -> dict[str, Any]:
    """An AsyncRoutingBackend entry that lets through the event names matching ``allow``."""
    return {
        "ENGINE": ASYNC_ENGINE,
        "OPTIONS": {
            "backend_name": name,
            "processors": [
                {
                    "ENGINE": "eventtracking.processors.regex_filter.RegexFilter",
                    "OPTIONS": {"filter_type": "allowlist", "regular_expressions": [allow]},
                }
            ],
            "backends": backends,
        },
    }


def flaky(path: Path, failures: int) -> dict[str, Any]:
    return {"ENGINE": FLAKY_ENGINE, "OPTIONS": {"path": str(path), "failures": failures}}


def tracking_backends(out_dir: Path) -> dict[str, Any]:
    """The documented configuration, plus backends that fail, and a batching exporter."""
    return {
        **documented_async_backends(),
        "retrying": async_backend(
            "retrying",
            r"test\.retry\.",
            {"flaky": flaky(out_dir / "flaky.jsonl", FLAKY_FAILURES), "steady": flaky(out_dir / "steady.jsonl", 0)},
        ),
        "failing": async_backend("failing", r"test\.fail\.", {"broken": flaky(out_dir / "broken.jsonl", 10**9)}),
        "batched": async_backend(
            "batched",
            r"test\.batch\.",
            {
                "exporter": {
                    "ENGINE": "eventtracking.batching.EventBatchProcessor",
                    "OPTIONS": {
                        "exporter": {
                            "ENGINE": "eventtracking.exporters.logger.LoggingLogExporter",
                            "OPTIONS": {"name": "batched"},
                        },
                        # Nothing is exported before shutdown, unless a batch fills up.
                        "schedule_delay_millis": 600_000,
                    },
                }
            },
        ),
    }


def _file_logger(path: Path) -> dict[str, Any]:
    return {"class": "logging.FileHandler", "filename": str(path), "formatter": "line"}


def django_settings(out_dir: Path) -> dict[str, Any]:
    """The worker's Django settings: the app, the backends above, their loggers to files in ``out_dir``."""
    return {
        "INSTALLED_APPS": ["eventtracking.django"],
        "USE_TZ": True,
        "EVENT_TRACKING_ENABLED": True,
        "EVENT_TRACKING_BACKENDS": tracking_backends(out_dir),
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"line": {"format": "%(message)s"}},
            "handlers": {
                "tracking": _file_logger(out_dir / "tracking.log"),
                "batched": _file_logger(out_dir / "batched.log"),
            },
            "loggers": {
                "tracking": {"handlers": ["tracking"], "level": "INFO", "propagate": False},
                "batched": {"handlers": ["batched"], "level": "INFO", "propagate": False},
            },
        },
    }


def worker_environment(out_dir: Path, queue: str) -> dict[str, str]:
    """The variables the worker needs on top of the test process's environment."""
    return {
        OUT_DIR_ENV: str(out_dir),
        QUEUE_ENV: queue,
        "EVENTTRACKING_CELERY_MAX_RETRIES": str(MAX_RETRIES),
        "EVENTTRACKING_CELERY_RETRY_COUNTDOWN": str(RETRY_COUNTDOWN),
        "EVENTTRACKING_TEST_REDIS_URL": REDIS_URL,
    }
