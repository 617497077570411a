"""Settings of the Django example. It needs no database: users live in memory, sessions in signed cookies."""

import os
from pathlib import Path

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-example-only-secret-key")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "examples.django_app.urls"
USE_TZ = True
DATABASES: dict = {}

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    # Builds the default tracker from EVENT_TRACKING_BACKENDS when EVENT_TRACKING_ENABLED = True;
    # without it, as here, the EVENTTRACKING_* environment configures the default tracker.
    "eventtracking.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
AUTHENTICATION_BACKENDS = ["examples.django_app.auth.DemoBackend"]
# The page that loads the browser client (views.page); Django's CSRF context processor is built in.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
    }
]
