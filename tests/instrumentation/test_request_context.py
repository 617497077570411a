"""The request context both instrumentors build: each key, its privacy rules and its limits."""

from __future__ import annotations

import hashlib
import hmac
import re
from types import SimpleNamespace

import pytest
from eventtracking.instrumentation.request_context import (
    MAX_LENGTHS,
    client_ip,
    request_context,
    session_context,
    user_context,
    user_context_from,
)

from eventtracking import diagnostics
from eventtracking.exceptions import ImproperlyConfigured

ENVIRON = {
    "REMOTE_ADDR": "192.0.2.10",
    "REQUEST_METHOD": "POST",
    "HTTP_HOST": "shop.example.com",
    "SERVER_NAME": "internal-name",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64)",
    "HTTP_REFERER": "https://user:hunter2@shop.example.com:8443/cart?reset_token=abc#pay",
    "HTTP_ACCEPT_LANGUAGE": "fr-CH, fr;q=0.9",
    "HTTP_X_REQUEST_ID": "req-42.a_b:c",
    "HTTP_COOKIE": "sessionid=raw-session; _ga=GA1.2.123.456",
    "HTTP_AUTHORIZATION": "Bearer secret-token",
    "QUERY_STRING": "password=letmein",
}


def test_every_key_from_the_environ_and_nothing_secret():
    context = request_context(
        ENVIRON, path="/cart/checkout", cookies={"sessionid": "raw-session", "_ga": "GA1.2.123.456"}
    )
    assert context == {
        "ip": "192.0.2.10",
        "agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "host": "shop.example.com",
        "path": "/cart/checkout",
        "method": "POST",
        "referer": "https://shop.example.com:8443/cart",
        "accept_language": "fr-CH, fr;q=0.9",
        "client_id": "123.456",
        "request_id": "req-42.a_b:c",
    }
    text = repr(context)
    for secret in ("raw-session", "secret-token", "letmein", "hunter2", "reset_token"):
        assert secret not in text


def test_absent_values_are_left_out_and_a_request_id_is_made():
    context = request_context({"REQUEST_METHOD": "GET"}, path="/", cookies={})
    assert set(context) == {"path", "method", "request_id"}
    assert re.fullmatch(r"[0-9a-f]{32}", context["request_id"])
    assert request_context({}, path="/", cookies={})["request_id"] != context["request_id"]


def test_host_falls_back_to_server_name():
    assert request_context({"SERVER_NAME": "internal-name"}, path="/", cookies={})["host"] == "internal-name"


@pytest.mark.parametrize(
    "incoming", ["", "has space", "semi;colon", "x" * 129, "-leading-dash", "newline\nInjected: 1", "ünïcode"]
)
def test_an_insane_request_id_is_replaced(incoming):
    context = request_context({"HTTP_X_REQUEST_ID": incoming}, path="/", cookies={})
    assert re.fullmatch(r"[0-9a-f]{32}", context["request_id"])


@pytest.mark.parametrize("cookie", ["GA1.2.123", "123.456", "GA1.2.abc.def", "GA1.2.123.456; evil", ""])
def test_client_id_only_from_a_well_formed_ga_cookie(cookie):
    assert "client_id" not in request_context({}, path="/", cookies={"_ga": cookie})


def test_client_id_from_other_ga_versions():
    assert request_context({}, path="/", cookies={"_ga": "GA1.3.98765.43210"})["client_id"] == "98765.43210"


def test_values_are_cut_to_their_limits():
    long = "x" * 5000
    environ = {
        "HTTP_USER_AGENT": long,
        "HTTP_HOST": long,
        "REQUEST_METHOD": long,
        "HTTP_ACCEPT_LANGUAGE": long,
        "REMOTE_ADDR": long,
        "HTTP_REFERER": "https://example.com/" + long,
    }
    context = request_context(environ, path="/" + long, cookies={})
    for key in ("agent", "host", "method", "accept_language", "ip", "referer", "path"):
        assert len(context[key]) == MAX_LENGTHS[key], key
    assert MAX_LENGTHS["agent"] == 512
    user = SimpleNamespace(id=long, username=long)
    assert {key: len(value) for key, value in user_context(user).items()} == {
        "user_id": MAX_LENGTHS["user_id"],
        "username": MAX_LENGTHS["username"],
    }


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("https://example.com/a/b?q=1", "https://example.com/a/b"),
        ("http://[2001:db8::1]:8080/x#frag", "http://[2001:db8::1]:8080/x"),
        ("https://alice:pw@example.com", "https://example.com"),
        ("/relative/path?token=1", "/relative/path"),
        ("http://example.com:notaport/", None),
    ],
)
def test_referer_without_credentials_query_or_fragment(referer, expected):
    assert request_context({"HTTP_REFERER": referer}, path="/", cookies={}).get("referer") == expected


def test_x_forwarded_for_is_ignored_by_default(monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_TRUSTED_PROXY_COUNT", raising=False)
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}) == "10.0.0.1"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        ("1", "203.0.113.7", "203.0.113.7"),
        ("1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the client may have sent the first entry
        ("2", "198.51.100.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        ("2", "203.0.113.7", "10.0.0.1"),  # fewer entries than trusted proxies: ignored
        ("1", "not-an-address", "10.0.0.1"),
        ("1", " 2001:db8::7 ", "2001:db8::7"),
    ],
)
def test_x_forwarded_for_honoured_for_trusted_proxies(monkeypatch, trusted, forwarded, expected):
    monkeypatch.setenv("EVENTTRACKING_TRUSTED_PROXY_COUNT", trusted)
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}) == expected


def test_a_bad_trusted_proxy_count_names_the_variable(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_TRUSTED_PROXY_COUNT", "many")
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_TRUSTED_PROXY_COUNT"):
        client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"})


def test_session_is_an_hmac_of_the_key_with_the_framework_secret(monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_SESSION_HASH_KEY", raising=False)
    expected = hmac.new(b"framework-secret", b"raw-session", hashlib.sha256).hexdigest()
    assert session_context("raw-session", "framework-secret") == {"session": expected}
    assert session_context("raw-session", b"framework-secret") == {"session": expected}


def test_session_hash_key_overrides_the_framework_secret(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_SESSION_HASH_KEY", "dedicated")
    expected = hmac.new(b"dedicated", b"raw-session", hashlib.sha256).hexdigest()
    assert session_context("raw-session", "framework-secret") == {"session": expected}


def test_no_session_without_a_key_or_a_secret(monkeypatch, caplog):
    monkeypatch.delenv("EVENTTRACKING_SESSION_HASH_KEY", raising=False)
    assert session_context(None, "secret") == {}
    assert session_context("raw-session", None) == {}
    assert "EVENTTRACKING_SESSION_HASH_KEY" in caplog.text
    assert diagnostics.counts()["no_session_hash_key"] == 1


class DjangoLikeUser:
    is_authenticated = True
    pk = 7

    def get_username(self) -> str:
        return "alice"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (DjangoLikeUser(), {"user_id": 7, "username": "alice"}),
        (SimpleNamespace(id=8, username="bob"), {"user_id": 8, "username": "bob"}),
        ({"id": 9, "username": "carol"}, {"user_id": 9, "username": "carol"}),
        (SimpleNamespace(id="a1b2", username="dan", is_authenticated=True), {"user_id": "a1b2", "username": "dan"}),
        (SimpleNamespace(id=10, username="eve", is_authenticated=False), {}),
        (None, {}),
    ],
)
def test_user_context(user, expected):
    assert user_context(user) == expected


def test_a_failing_user_lookup_leaves_the_user_out(caplog):
    def broken() -> None:
        raise RuntimeError("database is down")

    assert user_context_from(broken, "request.user") == {}
    assert "Could not read request.user" in caplog.text
    assert diagnostics.counts()["request_user_error"] == 1
