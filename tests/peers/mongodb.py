"""A real MongoDB wire-protocol peer for the tests.

``mongo_server`` is ``nx-27017`` (a MongoDB wire-protocol server from PyPI) on a free loopback
port with an in-memory database, started once per session, or, when
``EVENTTRACKING_TEST_MONGODB_URI`` is set, that server (a real ``mongod``). Tests that stop,
restart or otherwise control the server use ``nx_server``: always an ``nx-27017`` of their
own, with a database file in the test's temporary directory so that data survives a restart.
Every test gets its own database name (``mongo_database``), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo.errors import PyMongoError

from tests.peers.servers import free_port

URI_VARIABLE = "EVENTTRACKING_TEST_MONGODB_URI"
START_TIMEOUT_SECONDS = 20


def _executable() -> str:
    """The ``nx-27017`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("nx-27017")
    if beside.exists():
        return str(beside)
    found = shutil.which("nx-27017")
    if found is None:
        raise RuntimeError("nx-27017 is not installed: pip install -e '.[test]'")
    return found


def client_for(uri: str, **options: Any) -> pymongo.MongoClient:
    """A client that gives up quickly, with timezone-aware dates."""
    defaults = {"serverSelectionTimeoutMS": 2000, "connectTimeoutMS": 2000, "tz_aware": True}
    return pymongo.MongoClient(uri, **{**defaults, **options})


class NxServer:
    """An ``nx-27017`` process on a fixed port, with its own pid file, log file and database."""

    def __init__(self, workdir: Path, db: str = "memory", port: int | None = None) -> None:
        self.workdir = workdir
        self.db = db
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def options(self) -> dict[str, Any]:
        """Connection options in the seed's style."""
        return {"host": self.host, "port": self.port}

    @property
    def log_file(self) -> Path:
        return self.workdir / "nx-27017.log"

    def start(self) -> None:
        """Start the server and wait until it answers a ping."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            _executable(),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            self.db,
            "--pid-file",
            str(self.workdir / "nx-27017.pid"),
            "--log-file",
            str(self.log_file),
        ]
        with open(self.workdir / "nx-27017.out", "ab") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with client_for(self.uri, serverSelectionTimeoutMS=200) as client:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        output = (self.workdir / "nx-27017.out").read_text(errors="replace")
                        raise RuntimeError(f"nx-27017 did not start on port {self.port}:\n{output}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def kill(self) -> None:
        """Crash the server (SIGKILL): what it had not committed is lost, as in a real crash."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        """Start again on the same port and database file."""
        self.stop()
        self.start()


class ExternalServer:
    """A server the tests do not control, named by ``EVENTTRACKING_TEST_MONGODB_URI``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @property
    def options(self) -> dict[str, Any]:
        return {"uri": self.uri}


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer | ExternalServer]:
    """The shared server: the one ``EVENTTRACKING_TEST_MONGODB_URI`` names, else an in-memory nx-27017."""
    uri = os.environ.get(URI_VARIABLE)
    if uri:
        yield ExternalServer(uri)
        return
    server = NxServer(tmp_path_factory.mktemp("nx-27017"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nx_server(tmp_path: Path) -> Iterator[NxServer]:
    """An nx-27017 of this test's own, on a database file that survives restarts."""
    server = NxServer(tmp_path / "nx-27017", db=str(tmp_path / "events.db"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mongo_database(mongo_server: NxServer | ExternalServer) -> Iterator[str]:
    """A database name of this test's own on ``mongo_server``, dropped afterwards."""
    name = f"et_test_{uuid.uuid4().hex[:12]}"
    yield name
    with client_for(mongo_server.uri) as client:
        try:
            client.drop_database(name)
        except PyMongoError:
            pass


@pytest.fixture
def mongo_client(mongo_server: NxServer | ExternalServer) -> Iterator[pymongo.MongoClient]:
    """A client of ``mongo_server`` to check what was stored."""
    with client_for(mongo_server.uri) as client:
        yield client
