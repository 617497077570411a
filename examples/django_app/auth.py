"""Users kept in memory, so that the example runs without a database (a demo, not a login system)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User

USERS = {"alice": 1, "bob": 2}


class DemoBackend(BaseBackend):
    """Any known username with a non-empty password logs in; users are unsaved ``User`` objects."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None) -> User | None:
        if username in USERS and password:
            return User(pk=USERS[username], username=username)
        return None

    def get_user(self, user_id: Any) -> User | None:
        names = {pk: name for name, pk in USERS.items()}
        pk = int(user_id)
        return User(pk=pk, username=names[pk]) if pk in names else None
