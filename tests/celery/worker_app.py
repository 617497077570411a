"""The Celery app of the test worker: ``celery -A tests.celery.worker_app worker``.

Django starts first, with the app ``eventtracking.django`` and the same EVENT_TRACKING_BACKENDS
as the test process, so that the worker's default tracker is a DjangoTracker that knows the
AsyncRoutingBackends by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import django
from celery import Celery
from django.conf import settings

from tests.celery import worker_config

settings.configure(**worker_config.django_settings(Path(os.environ[worker_config.OUT_DIR_ENV])))
django.setup()

app = Celery("eventtracking-test-worker")
app.conf.update(worker_config.celery_config(os.environ[worker_config.QUEUE_ENV]))
