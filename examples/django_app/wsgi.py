"""WSGI entry point of the Django example: ``gunicorn examples.django_app.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

from examples.django_app import events  # noqa: F401  (registers the event types at start-up)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
application = get_wsgi_application()
