"""Write events to a MongoDB collection, one document per event (entry point ``eventtracking_mongodb``).

The document is the event in the seed's shape, ``name``, ``timestamp`` (a BSON date), ``context``
and ``data`` nested as emitted, plus ``trace_id`` and ``span_id`` (hex) when the event happened
inside a span, and an ``_id`` (an ObjectId, unless the event brings its own). Each batch is one
unordered ``insert_many`` with acknowledged writes (``w=1`` unless configured otherwise), so a
failed write is seen and retried instead of lost.

One rule makes any event storable (``to_document``):

* keys: non-string keys become ``str(key)``; a leading ``$`` becomes the full-width dollar sign
  U+FF04, every ``.`` the full-width full stop U+FF0E, and NUL becomes U+FFFD, at every depth,
  because MongoDB rejects such field names or cannot query them;
* values: BSON-native values stay as they are (str, bool, int within 64 bits, float, None,
  datetime, and ``bson`` types such as ObjectId or Decimal128); dicts and lists stay nested;
  everything else follows ``eventtracking.values.portable`` (dates to ISO text, Decimal and
  UUID to text, sets to lists, larger ints to text, ...).

An event that still cannot be stored (over MongoDB's 16 MiB document limit, or text that is not
valid Unicode) is written with its ``data`` replaced by ``{"eventtracking_truncated": true,
"reason": ...}``, with a warning.

Metadata records (``eventtracking.registry.is_metadata``: the documentation of a registered event
type or described context, emitted once as an event named ``eventtracking.metadata``) are not
events: they go to a collection of their own in the same database, ``metadata_collection``
(``EVENTTRACKING_MONGODB_METADATA_COLLECTION``, default ``event_metadata``), one document per
metadata id (``registry.metadata_document``)::

    {"_id": "<id>", "kind": "event" | "context", "name", "description",
     "fields": [{"name", "description"}, ...], "registered_at": <BSON date>}

Events carry that id as ``name_id`` (and ``context_type_id``), so an analyst joins an event to
the documentation in force when it was emitted. A batch's metadata is written with one
unordered ``bulk_write`` of upserts (``$setOnInsert``): writing it again (a retried batch,
another process registering the same type) changes nothing, and ``registered_at`` stays the
first registration's. It is written before the batch's events, and retried with them.

Retries are safe: the documents of a failed batch keep their ``_id`` when the batch is exported
again, and a duplicate-key error on such a document means an earlier attempt stored it. Indexes
on ``name`` and ``timestamp`` are created on a background thread at start-up (again after the
next successful write if the server was unreachable); failures are logged, never raised.
"""

from __future__ import annotations

import datetime
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import bson
from bson.errors import InvalidDocument
from bson.raw_bson import RawBSONDocument
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.trace import format_span_id, format_trace_id
from pymongo import ASCENDING, IndexModel, MongoClient, UpdateOne, WriteConcern
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, ConfigurationError, ConnectionFailure, PyMongoError

from eventtracking import config, diagnostics, registry, values
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.records import event_of

LOG = logging.getLogger("eventtracking.exporters.mongodb")

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 27017
DEFAULT_DATABASE = "eventtracking"
DEFAULT_COLLECTION = "events"
# MongoClient options unless ``extra`` or the URI set them: fail fast while the server is down
# (the batch processor retries), acknowledged writes, timezone-aware dates on read as in the seed.
CLIENT_DEFAULTS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 2000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 30000,
    "w": 1,
    "tz_aware": True,
}
INDEXED_FIELDS = ("name", "timestamp")
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
TRUNCATED = "eventtracking_truncated"

_DUPLICATE_KEY = 11000
# Write errors worth retrying the batch for (the retryable codes of MongoDB's retryable-writes
# specification); any other write error is about the document itself and is not retried.
_TRANSIENT_CODES = frozenset({6, 7, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436})
_BSON_TYPES = (
    bson.ObjectId,
    bson.Binary,
    bson.Code,
    bson.DBRef,
    bson.Decimal128,
    bson.Int64,
    bson.MaxKey,
    bson.MinKey,
    bson.Regex,
    bson.Timestamp,
    bson.DatetimeMS,
)
# Values stored as they are, checked first because nearly every value is one of them.
_PLAIN = frozenset({str, float, bool, type(None), datetime.datetime})
_ENCODE_ERRORS = (InvalidDocument, OverflowError, ValueError)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_WIDE_DOLLAR = "\uff04"
_WIDE_DOT = "\uff0e"


def bson_key(key: Any) -> str:
    """The field name MongoDB stores for ``key`` (the key rule in this module's docstring)."""
    if type(key) is not str:
        key = str(key)
    if key[:1] == "$":
        key = _WIDE_DOLLAR + key[1:]
    if "." in key:
        key = key.replace(".", _WIDE_DOT)
    if "\x00" in key:
        key = key.replace("\x00", "\ufffd")
    return key


def bson_value(value: Any, path: str = "") -> Any:
    """``value`` as BSON can store it (the value rule in this module's docstring)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
    if kind is dict or isinstance(value, Mapping):
        return {
            bson_key(key): item if type(item) in _PLAIN else bson_value(item, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [bson_value(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (datetime.datetime, *_BSON_TYPES)):
        return value
    # The portable form is plain JSON types; converting it again applies the key rule to an enum's dict value.
    return bson_value(values.portable(value, path), path)


def to_document(event: Mapping[str, Any], record: Any = None) -> dict[str, Any]:
    """The MongoDB document for ``event``; ``record`` (its log record) supplies the trace ids."""
    document = bson_value(event)
    document.setdefault("_id", bson.ObjectId())
    log_record = getattr(record, "log_record", record)
    trace_id = getattr(log_record, "trace_id", None)
    span_id = getattr(log_record, "span_id", None)
    if trace_id and span_id:
        document.setdefault("trace_id", format_trace_id(trace_id))
        document.setdefault("span_id", format_span_id(span_id))
    return document


def _check(name: str, value: Any, kinds: tuple[type, ...]) -> None:
    if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
        expected = " or ".join(kind.__name__ for kind in kinds)
        raise ImproperlyConfigured(f"MongoDB exporter: {name}={value!r} must be a {expected}.")


def _uri_parts(target: Any) -> tuple[str | None, set[str]]:
    """The database and the (lower-cased) option names in a connection string, if ``target`` is one."""
    if not (isinstance(target, str) and "://" in target):
        return None, set()
    parts = urllib.parse.urlsplit(target)
    options = {name.lower() for name, _ in urllib.parse.parse_qsl(parts.query)}
    return urllib.parse.unquote(parts.path.lstrip("/")) or None, options


def _client_options(
    extra: dict[str, Any], uri_options: set[str], user: str | None, password: str | None, database: str
) -> dict[str, Any]:
    """``CLIENT_DEFAULTS`` that neither ``extra`` nor the URI set, the credentials, then ``extra``."""
    given = {name.lower() for name in extra} | uri_options
    options = {name: value for name, value in CLIENT_DEFAULTS.items() if name.lower() not in given}
    if user or password:
        options.update(username=user or None, password=password or None)
        if "authsource" not in given:
            options["authSource"] = database  # the seed authenticated against the events database
    options.update(extra)
    return options


def _text(value: Any) -> str:
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


class MongoLogExporter(LogRecordExporter):
    """An OTel log exporter that inserts events into a MongoDB collection.

    Connect with ``uri`` (``EVENTTRACKING_MONGODB_URI`` when neither it nor ``host``/``port``
    is given) or with ``host`` and ``port`` (default ``localhost:27017``). ``user`` and
    ``password`` authenticate against ``database`` unless ``extra`` sets ``authSource``, as
    the seed did. ``database`` defaults to ``EVENTTRACKING_MONGODB_DATABASE``, then the URI's
    database, then ``eventtracking``; ``collection`` to ``EVENTTRACKING_MONGODB_COLLECTION``,
    then ``events``; ``metadata_collection`` (where metadata records go, in the same database) to
    ``EVENTTRACKING_MONGODB_METADATA_COLLECTION``, then ``event_metadata``. ``extra`` is passed
    to ``MongoClient`` and overrides ``CLIENT_DEFAULTS``; ``w`` is the write concern (default 1:
    acknowledged). Records that are not events are skipped.
    """

    def __init__(
        self,
        *,
        host: str | list[str] | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        collection: str | None = None,
        metadata_collection: str | None = None,
        extra: Mapping[str, Any] | None = None,
        uri: str | None = None,
        w: int | str | None = None,
    ) -> None:
        for name, value, kinds in (
            ("host", host, (str, list)),
            ("port", port, (int,)),
            ("user", user, (str,)),
            ("password", password, (str,)),
            ("database", database, (str,)),
            ("collection", collection, (str,)),
            ("metadata_collection", metadata_collection, (str,)),
            ("extra", extra, (Mapping,)),
            ("uri", uri, (str,)),
            ("w", w, (int, str)),
        ):
            _check(name, value, kinds)
        if uri is not None and (host is not None or port is not None):
            raise ImproperlyConfigured("MongoDB exporter: give either uri or host/port, not both.")
        origin = ""
        if uri is None and host is None and port is None:
            uri = config.text(config.MONGODB_URI, "") or None
            origin = f" (uri from {config.MONGODB_URI})" if uri else ""
        extra = dict(extra or {})
        if w is not None:
            if "w" in extra:
                raise ImproperlyConfigured(
                    "MongoDB exporter: give the write concern either as w or in extra, not both."
                )
            extra["w"] = w
        target = uri if uri is not None else host
        uri_database, uri_options = _uri_parts(target)
        if database is None:
            database = config.text(config.MONGODB_DATABASE, "") or uri_database or DEFAULT_DATABASE
        if collection is None:
            collection = config.text(config.MONGODB_COLLECTION, DEFAULT_COLLECTION)
        if metadata_collection is None:
            metadata_collection = config.text(config.MONGODB_METADATA_COLLECTION, registry.DEFAULT_METADATA_COLLECTION)
        options = _client_options(extra, uri_options, user, password, database)
        try:
            if uri is not None:
                self.client: MongoClient = MongoClient(uri, **options)
            else:
                self.client = MongoClient(host=host or DEFAULT_HOST, port=port or DEFAULT_PORT, **options)
            self.database = self.client[database]
            self.collection: Collection = self.database[collection]
            self.metadata_collection: Collection = self.database[metadata_collection]
        except (ConfigurationError, TypeError, ValueError, PyMongoError) as error:
            raise ImproperlyConfigured(f"MongoDB exporter{origin}: {error}") from error
        if not self.collection.write_concern.acknowledged:
            LOG.warning(
                "MongoDB exporter for %s uses unacknowledged writes (w=0): events the server rejects "
                "or misses while it is down are lost without notice.",
                self.collection.full_name,
            )
        self._codec_options = self.collection.codec_options
        self._lock = threading.Lock()
        self._unconfirmed: dict[int, tuple[Any, RawBSONDocument]] = {}
        self._closed = False
        self._start_indexing()

    def _start_indexing(self) -> None:
        self._indexes = "creating"
        threading.Thread(target=self._create_indexes, name="eventtracking-mongodb-indexes", daemon=True).start()

    def _create_indexes(self) -> None:
        """Create the indexes; if the server was unreachable, try again after the next successful write."""
        acknowledged = self.collection.with_options(write_concern=WriteConcern(w=1))
        try:
            acknowledged.create_indexes([IndexModel([(field, ASCENDING)]) for field in INDEXED_FIELDS])
        except Exception as error:  # whatever goes wrong, start-up must not fail
            unreachable = isinstance(error, ConnectionFailure)
            self._indexes = "failed" if unreachable else "given up"
            if not self._closed:
                diagnostics.warn(
                    "mongodb_index_error",
                    self.collection.full_name,
                    "Could not create the indexes of %s (%s): %s",
                    self.collection.full_name,
                    "retried after the next successful write" if unreachable else "not retried",
                    error,
                )
        else:
            self._indexes = "done"

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        """Insert the batch's events; FAILURE when the server is unreachable, so it is retried."""
        with self._lock:
            if self._closed:
                return LogRecordExportResult.FAILURE
            previous = self._unconfirmed
            documents: list[RawBSONDocument] = []
            upserts: list[tuple[str, UpdateOne]] = []
            retried: set[int] = set()
            unconfirmed: dict[int, tuple[Any, RawBSONDocument]] = {}
            for record in batch:
                kept = previous.get(id(record))
                if kept is not None and kept[0] is record:
                    document = kept[1]
                    retried.add(id(document))
                else:
                    event = event_of(record)
                    if event is None:
                        continue
                    if registry.is_metadata(event):
                        upsert = self._metadata_upsert(event)
                        if upsert is not None:
                            upserts.append(upsert)
                        continue
                    document = self._encoded(to_document(event, record))
                    if document is None:
                        continue
                unconfirmed[id(record)] = (record, document)
                documents.append(document)
            # Kept until the insert is confirmed, so that a retry re-sends the same _ids.
            self._unconfirmed = unconfirmed
            # The metadata first, so that the documentation is there before the events that refer to it.
            if upserts and not self._upsert_metadata(upserts):
                return LogRecordExportResult.FAILURE
            if documents and not self._insert(documents, retried):
                return LogRecordExportResult.FAILURE
            self._unconfirmed = {}
        if self._indexes == "failed":
            self._start_indexing()
        return LogRecordExportResult.SUCCESS

    def _encoded(self, document: dict[str, Any]) -> RawBSONDocument | None:
        """The document as BSON, encoded once and sent as is; truncated when it cannot be stored."""
        try:
            data = bson.encode(document, codec_options=self._codec_options)
        except _ENCODE_ERRORS as error:
            reason = _text(f"{type(error).__name__}: {error}")[:500]
        else:
            if len(data) <= MAX_DOCUMENT_BYTES:
                return RawBSONDocument(data)
            reason = f"{len(data)} bytes, over the {MAX_DOCUMENT_BYTES}-byte document limit"
        name = _text(document.get("name"))
        stub = {key: document[key] for key in ("_id", "timestamp", "trace_id", "span_id") if key in document}
        stub.update(name=name, data={TRUNCATED: True, "reason": reason})
        for candidate in ({**stub, "context": document.get("context")}, stub):
            try:
                data = bson.encode(candidate, codec_options=self._codec_options)
            except _ENCODE_ERRORS:
                continue
            if len(data) <= MAX_DOCUMENT_BYTES:
                diagnostics.warn(
                    "mongodb_truncated",
                    name,
                    "Event %r cannot be stored as is (%s): stored without its data.",
                    name,
                    reason,
                )
                return RawBSONDocument(data)
        diagnostics.count(f"dropped.{type(self).__name__}")
        diagnostics.warn("mongodb_unstorable", name, "Event %r cannot be stored (%s): dropped.", name, reason)
        return None

    def _metadata_upsert(self, event: Mapping[str, Any]) -> tuple[str, UpdateOne] | None:
        """The metadata id and the upsert that stores it (None when it cannot be stored)."""
        key, update = registry.metadata_upsert(event)
        # The values follow the value rule; the operator's own "$" key stays as it is.
        update = {operator: bson_value(fields) for operator, fields in update.items()}
        try:
            bson.encode({"q": key, "u": update}, codec_options=self._codec_options)
        except _ENCODE_ERRORS as error:
            diagnostics.count(f"dropped.{type(self).__name__}")
            diagnostics.warn(
                "mongodb_unstorable",
                registry.METADATA_EVENT_NAME,
                "The metadata %r of %r cannot be stored (%s): dropped.",
                key["_id"],
                _text(event["data"].get("name")),
                _text(f"{type(error).__name__}: {error}")[:500],
            )
            return None
        return key["_id"], UpdateOne(key, update, upsert=True)

    def _upsert_metadata(self, upserts: list[tuple[str, UpdateOne]]) -> bool:
        """One unordered bulk write of metadata upserts; True when each is stored or can never be."""
        return self._write(
            self.metadata_collection,
            lambda target: target.bulk_write([upsert for _, upsert in upserts], ordered=False),
            kind="metadata",
            label=lambda index: upserts[index][0],
            # A duplicate key means a concurrent upsert of the same id inserted it first: stored.
            stored_when_duplicate=lambda index: True,
            count=len(upserts),
        )

    def _insert(self, documents: list[RawBSONDocument], retried: set[int]) -> bool:
        """One unordered bulk insert; True when every document is stored or can never be."""
        return self._write(
            self.collection,
            lambda target: target.insert_many(documents, ordered=False),
            kind="event",
            label=lambda index: documents[index].get("name"),
            # A duplicate key on a retried document means an earlier attempt of this batch stored it.
            stored_when_duplicate=lambda index: id(documents[index]) in retried,
            count=len(documents),
        )

    def _write(
        self,
        target: Collection,
        write: Callable[[Collection], Any],
        *,
        kind: str,
        label: Callable[[int], Any],
        stored_when_duplicate: Callable[[int], bool],
        count: int,
    ) -> bool:
        """Run one unordered bulk ``write``, then sort its errors into stored, to retry, and rejected.

        True when nothing is left to retry: what the server rejects for good is counted and logged.
        """
        try:
            write(target)
        except BulkWriteError as error:
            details = error.details
        except PyMongoError as error:
            diagnostics.warn(
                "mongodb_unavailable",
                target.full_name,
                "Could not write %d %s record(s) to %s (they are kept and retried): %s",
                count,
                kind,
                target.full_name,
                error,
            )
            return False
        else:
            return True
        complete = True
        for write_error in details.get("writeErrors", ()):
            index, code = write_error["index"], write_error.get("code")
            if code == _DUPLICATE_KEY and stored_when_duplicate(index):
                continue
            if code in _TRANSIENT_CODES:
                complete = False
                continue
            diagnostics.count(f"dropped.{type(self).__name__}")
            diagnostics.warn(
                "mongodb_rejected",
                code,
                "MongoDB rejected %s %r (code %s: %s); it is not retried.",
                kind,
                label(index),
                code,
                write_error.get("errmsg"),
            )
        if details.get("writeConcernErrors"):
            complete = False
            diagnostics.warn(
                "mongodb_write_concern",
                target.full_name,
                "The write concern of %s was not satisfied (retried): %s",
                target.full_name,
                details["writeConcernErrors"][0].get("errmsg"),
            )
        return complete

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing to flush: ``export`` returns once the server has acknowledged the batch."""
        return True

    def shutdown(self) -> None:
        """Close the client; later exports fail."""
        with self._lock:
            self._closed = True
            self.client.close()
