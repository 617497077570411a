"""The original processors, with configuration errors at construction."""

from __future__ import annotations

import pytest

from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.processors.exceptions import EventEmissionExit
from eventtracking.processors.regex_filter import RegexFilter
from eventtracking.processors.whitelist import NameWhitelistProcessor


def event(name):
    return {"name": name, "data": {}, "context": {}}


def test_whitelist_keeps_listed_names_and_filters_batches():
    processor = NameWhitelistProcessor(whitelist=["a", "b"])
    assert processor(event("a")) == event("a")
    with pytest.raises(EventEmissionExit):
        processor(event("c"))
    assert processor([event("a"), event("c"), event("b")]) == [event("a"), event("b")]


@pytest.mark.parametrize("bad", [None, "a,b", 3])
def test_whitelist_needs_a_collection(bad):
    with pytest.raises(TypeError, match="collection of allowed names"):
        NameWhitelistProcessor(whitelist=bad)


def test_regex_allowlist_and_blocklist():
    allow = RegexFilter("allowlist", [r"^edx\.course\.", r"^video"])
    block = RegexFilter("blocklist", [r"^edx\.course\."])
    assert allow(event("edx.course.enrolled"))["name"] == "edx.course.enrolled"
    assert allow(event("video.play"))
    with pytest.raises(EventEmissionExit):
        allow(event("problem.check"))
    with pytest.raises(EventEmissionExit):
        block(event("edx.course.enrolled"))
    assert block(event("problem.check"))


def test_regex_filter_rejects_bad_configuration_at_construction():
    with pytest.raises(ImproperlyConfigured, match="filter_type 'maybe' is not supported"):
        RegexFilter("maybe", [])
    with pytest.raises(ImproperlyConfigured, match=r"invalid regular expressions: '\[unclosed'"):
        RegexFilter("allowlist", ["ok", "[unclosed"])
    with pytest.raises(ImproperlyConfigured, match="list of patterns"):
        RegexFilter("allowlist", "^edx")
