"""Documentation of the registered event types and contexts: Markdown, or one self-contained HTML page.

    python -m eventtracking docs --module myapp.events --format html --output events.html
    eventtracking-docs --mongodb-uri mongodb://db:27017 --database eventtracking > events.md
    eventtracking-docs --jsonl /var/log/events.log --format html --output events.html

Sources, which can be combined:

* ``--module NAME`` (repeatable): import modules that register types, with any tracker or the
  module-level ``register``; every registry alive afterwards is read;
* ``--mongodb-uri`` / ``--database`` / ``--collection``: the metadata collection the MongoDB
  exporter keeps (``event_metadata``, one document per id), or an events collection holding the
  metadata records themselves (events named ``eventtracking.metadata``);
* ``--jsonl FILE`` (repeatable): JSON lines written by the logging exporter.

Each type is listed with its description and the fields of its current version (the last
registered), then its older versions, each with its id, so an analyst holding an event's
``name_id`` finds the documentation it was emitted under; the HTML page's search box matches
names, descriptions, field names and ids.
"""

from __future__ import annotations

import argparse
import datetime
import html
import importlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventtracking import registry
from eventtracking.registry import CONTEXT, EVENT, Metadata

__all__ = ["Catalog", "DocumentedType", "from_jsonl", "from_modules", "from_mongodb", "main", "markdown", "page"]

TITLE = "Event types and contexts"
_SECTIONS = ((EVENT, "Event types"), (CONTEXT, "Contexts"))


@dataclass
class DocumentedType:
    """An event type or a context, with every version of its metadata, oldest first."""

    kind: str
    name: str
    versions: list[tuple[Metadata, datetime.datetime | None]] = field(default_factory=list)

    @property
    def current(self) -> Metadata:
        return self.versions[-1][0]

    @property
    def anchor(self) -> str:
        return f"{self.kind}-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def labelled_versions(self) -> list[tuple[str, Metadata, datetime.datetime | None]]:
        """(label, metadata, registration time) of each version, the current one first."""
        count = len(self.versions)
        labelled = []
        for number, (metadata, moment) in enumerate(self.versions, start=1):
            if number == count:
                label = f"Current version ({count} of {count})" if count > 1 else "Current version"
            else:
                label = f"Version {number} of {count}"
            labelled.append((label, metadata, moment))
        return labelled[::-1]

    def search_text(self) -> str:
        """Everything the search box matches: name, descriptions, field names and texts, ids."""
        parts = [self.name]
        for metadata, _ in self.versions:
            parts += [metadata.id, metadata.description, *metadata.fields.keys(), *metadata.fields.values()]
        return " ".join(parts).lower()


class Catalog:
    """Metadata from any number of sources, deduplicated by id, grouped by kind and name."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[Metadata, datetime.datetime | None]] = {}
        self.sources: list[str] = []

    def add(self, metadata: Metadata, registered_at: Any = None) -> None:
        """Add one version; an id seen twice keeps its earliest registration time."""
        moment = _moment(registered_at)
        known = self._found.get(metadata.id)
        if known is None or (moment is not None and (known[1] is None or moment < known[1])):
            self._found[metadata.id] = (metadata, moment)

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add the metadata in metadata records or metadata documents; anything else is skipped."""
        for record in records:
            found = registry.metadata_from_record(record)
            if found is not None:
                self.add(*found)

    def __len__(self) -> int:
        return len(self._found)

    def types(self, kind: str) -> list[DocumentedType]:
        """The documented types of one kind, by name; versions ordered by registration time."""
        grouped: dict[str, DocumentedType] = {}
        oldest = datetime.datetime.min.replace(tzinfo=datetime.UTC)
        for metadata, moment in sorted(self._found.values(), key=lambda item: item[1] or oldest):
            if metadata.kind == kind:
                grouped.setdefault(metadata.name, DocumentedType(kind, metadata.name)).versions.append(
                    (metadata, moment)
                )
        return [grouped[name] for name in sorted(grouped)]


def _moment(value: Any) -> datetime.datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def from_modules(names: Sequence[str], catalog: Catalog) -> None:
    """Import ``names`` (from the working directory too), then add everything every live registry holds."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        importlib.import_module(name)
        catalog.sources.append(f"module {name}")
    for types in registry.registries():
        for metadata, registered_at in types:
            catalog.add(metadata, registered_at)


def from_mongodb(uri: str, database: str, collection: str, catalog: Catalog) -> None:
    """Add the metadata documents (or metadata records) of a MongoDB collection."""
    try:
        import pymongo
    except ImportError:
        raise SystemExit("Reading MongoDB needs pymongo: pip install 'event-tracking-otel[mongodb]'") from None
    query = {"$or": [{"kind": {"$in": [EVENT, CONTEXT]}}, {"name": registry.METADATA_EVENT_NAME}]}
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000, tz_aware=True) as client:
        catalog.add_records(client[database][collection].find(query))
    catalog.sources.append(f"MongoDB {database}.{collection}")


def from_jsonl(path: Path, catalog: Catalog) -> None:
    """Add the metadata records among the JSON lines of an event log; other lines are skipped."""
    with path.open(encoding="utf-8") as lines:
        catalog.add_records(_json_objects(lines))
    catalog.sources.append(f"log {path.name}")


def _json_objects(lines: Iterable[str]) -> Iterable[Mapping[str, Any]]:
    for line in lines:
        start = line.find("{")  # a log format may put a prefix before the JSON
        if start < 0:
            continue
        try:
            value = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(value, Mapping):
            yield value


def _when(moment: datetime.datetime | None) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"


# Markdown.


def _md_text(text: str) -> str:
    """Text that Markdown shows as written: no HTML tags or entities of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") or " "


def _md_version(lines: list[str], label: str, metadata: Metadata, moment: datetime.datetime | None) -> None:
    lines += [f"{label} `{metadata.id}`, registered {_when(moment)}", ""]
    if metadata.description:
        lines += [_md_text(metadata.description), ""]
    if metadata.fields:
        lines += ["| field | description |", "| --- | --- |"]
        lines += [f"| `{_md_cell(name)}` | {_md_cell(text)} |" for name, text in metadata.fields.items()]
    else:
        lines.append("No fields are described.")
    lines.append("")


def markdown(catalog: Catalog) -> str:
    """The catalog as one Markdown document, with a table of contents."""
    lines = [f"# {TITLE}", "", f"Generated from {', '.join(catalog.sources) or 'nothing'}.", ""]
    for kind, heading in _SECTIONS:
        documented = catalog.types(kind)
        if not documented:
            continue
        lines += [f"- {heading}"]
        lines += [f"  - [{_md_text(item.name)}](#{item.anchor})" for item in documented]
    lines.append("")
    for kind, heading in _SECTIONS:
        documented = catalog.types(kind)
        if not documented:
            continue
        lines += [f"## {heading}", ""]
        for item in documented:
            lines += [f'<a id="{item.anchor}"></a>', "", f"### {_md_text(item.name)}", ""]
            for label, metadata, moment in item.labelled_versions():
                _md_version(lines, f"{label}:", metadata, moment)
    return "\n".join(lines).rstrip() + "\n"


# HTML.

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: 18rem 1fr; }
header { grid-column: 1 / -1; padding: 1rem 2rem; border-bottom: 1px solid #ddd; background: #fafafa; }
header input { width: 100%; max-width: 40rem; font-size: 1rem; padding: .4rem .6rem; }
nav { padding: 1rem; border-right: 1px solid #ddd; overflow-wrap: anywhere; }
nav ul { list-style: none; padding-left: .5rem; }
main { padding: 1rem 2rem; }
section.type { border-bottom: 1px solid #eee; padding-bottom: 1rem; }
.kind { font-size: .75rem; text-transform: uppercase; color: #555; border: 1px solid #bbb; border-radius: 3px;
        padding: 0 .3rem; margin-left: .5rem; vertical-align: middle; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
code { background: #f3f3f3; padding: 0 .2rem; }
.meta { color: #555; }
"""

_SCRIPT = """
(function () {
  var box = document.getElementById("search");
  var types = Array.prototype.slice.call(document.querySelectorAll("section.type"));
  function filter() {
    var terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    types.forEach(function (section) {
      var text = section.getAttribute("data-search");
      var match = terms.every(function (term) { return text.indexOf(term) >= 0; });
      section.hidden = !match;
      document.querySelector('nav li[data-for="' + section.id + '"]').hidden = !match;
      shown += match ? 1 : 0;
    });
    document.getElementById("no-match").hidden = shown > 0;
  }
  box.addEventListener("input", filter);
  filter();
})();
"""


def _html_version(label: str, metadata: Metadata, moment: datetime.datetime | None) -> str:
    esc = html.escape
    when = f'<span class="meta">registered {_when(moment)}</span>'
    parts = [f"<h3>{esc(label)} <code>{esc(metadata.id)}</code> {when}</h3>"]
    if metadata.description:
        parts.append(f"<p>{esc(metadata.description)}</p>")
    if metadata.fields:
        rows = "".join(
            f"<tr><td><code>{esc(name)}</code></td><td>{esc(text)}</td></tr>" for name, text in metadata.fields.items()
        )
        parts.append(f"<table><thead><tr><th>field</th><th>description</th></tr></thead><tbody>{rows}</tbody></table>")
    else:
        parts.append("<p>No fields are described.</p>")
    return "".join(parts)


def page(catalog: Catalog) -> str:
    """The catalog as one HTML page with inline style and script, an index and a search box."""
    esc = html.escape
    nav: list[str] = []
    sections: list[str] = []
    for kind, heading in _SECTIONS:
        documented = catalog.types(kind)
        if not documented:
            continue
        nav.append(f"<h2>{esc(heading)}</h2><ul>")
        for item in documented:
            nav.append(f'<li data-for="{item.anchor}"><a href="#{item.anchor}">{esc(item.name)}</a></li>')
            current, *older = item.labelled_versions()
            body = [_html_version(*current)]
            if older:
                body.append(f"<details><summary>{len(older)} older version(s)</summary>")
                body += [_html_version(*version) for version in older]
                body.append("</details>")
            sections.append(
                f'<section class="type" id="{item.anchor}" data-search="{esc(item.search_text())}">'
                f'<h2>{esc(item.name)}<span class="kind">{esc(kind)}</span></h2>{"".join(body)}</section>'
            )
        nav.append("</ul>")
    title = esc(TITLE)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<header><h1>{title}</h1><p class="meta">Generated from {esc(", ".join(catalog.sources) or "nothing")}.'
        "</p>"
        '<input type="search" id="search" placeholder="Search names, descriptions, fields, ids" '
        'aria-label="Search event types"></header>'
        f"<nav>{''.join(nav)}</nav><main>{''.join(sections)}"
        '<p id="no-match" hidden>Nothing matches the search.</p></main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


# Command line.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``docs`` command."""
    parser.add_argument("--module", action="append", default=[], help="import this module (repeatable)")
    parser.add_argument("--mongodb-uri", help="read the metadata from this MongoDB server")
    parser.add_argument("--database", default="eventtracking", help="MongoDB database (default: %(default)s)")
    parser.add_argument(
        "--collection",
        default=registry.DEFAULT_METADATA_COLLECTION,
        help="MongoDB collection of metadata, or of events holding metadata records (default: %(default)s)",
    )
    parser.add_argument("--jsonl", action="append", default=[], type=Path, help="read a JSON-lines event log")
    parser.add_argument("--format", choices=("markdown", "html"), default="markdown")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    """Collect from the sources the arguments name, then write the document; 1 when nothing is found."""
    if not (args.module or args.mongodb_uri or args.jsonl):
        print("Name a source: --module, --mongodb-uri or --jsonl.", file=sys.stderr)
        return 2
    catalog = Catalog()
    if args.module:
        from_modules(args.module, catalog)
    if args.mongodb_uri:
        from_mongodb(args.mongodb_uri, args.database, args.collection, catalog)
    for path in args.jsonl:
        from_jsonl(path, catalog)
    if not len(catalog):
        print(f"No event type or context metadata found in {', '.join(catalog.sources)}.", file=sys.stderr)
        return 1
    document = page(catalog) if args.format == "html" else markdown(catalog)
    if args.output is None:
        sys.stdout.write(document)
    else:
        args.output.write_text(document, encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``eventtracking-docs`` console script."""
    parser = argparse.ArgumentParser(prog="eventtracking-docs", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
