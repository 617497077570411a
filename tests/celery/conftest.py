"""Fixtures: Redis, a real Celery worker per module, and the producing tracker of the test process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from eventtracking.django import DjangoTracker
from tests.celery import worker_config
from tests.celery.support import Worker, producer_for
from tests.django_app.support import ensure_django


@pytest.fixture(scope="session", autouse=True)
def _django() -> None:
    ensure_django()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(worker_config.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"The Celery tests need Redis at {worker_config.REDIS_URL} (EVENTTRACKING_TEST_REDIS_URL): {error}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def start_worker(tmp_path_factory, redis_client) -> Iterator[Callable[[str], Worker]]:
    """Start workers with the given pool; each is stopped and its queue deleted after the module."""
    started: list[Worker] = []

    def start(pool: str) -> Worker:
        started.append(Worker(tmp_path_factory.mktemp(f"celery-{pool}"), pool))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
        for key in redis_client.scan_iter(match=f"*{worker.queue}*"):
            redis_client.delete(key)


@pytest.fixture(scope="module")
def worker(start_worker) -> Worker:
    """The module's worker, with the solo pool (the task runs in the worker's main process)."""
    return start_worker("solo")


@pytest.fixture
def producer(worker) -> Iterator[DjangoTracker]:
    with producer_for(worker) as built:
        yield built
