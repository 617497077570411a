"""A small Flask site that uses the browser client, served on loopback for the end-to-end tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, render_template_string, request
from werkzeug.serving import make_server

from eventtracking.browser import Limits
from eventtracking.browser.flask import create_blueprint
from eventtracking.tracker import Tracker

PAGE = """<!DOCTYPE html>
<html><head><title>A video</title>{{ eventtracking_script() }}</head>
<body>
<button id="play">Play</button>
<script>
  Tracker.configure({flushInterval: {{ flush_interval }}});
  document.getElementById("play").addEventListener("click", function () {
    Tracker.emit("test.video.played", {position: 12.5, video_id: "v1"});
  });
</script>
</body></html>
"""


def create_app(tracker: Tracker, limits: Limits | None = None) -> Flask:
    """The site: ``/`` (``?flush=ms`` sets the client's flush interval) and the blueprint.

    ``app.config["DELIVERIES"]`` lists the ``Sec-Fetch-Mode`` of each batch request, which tells
    a ``sendBeacon`` (``no-cors``) from a ``fetch`` (``cors``).
    """
    app = Flask(__name__)
    app.secret_key = "tests-only"
    app.config["DELIVERIES"] = []
    app.register_blueprint(create_blueprint(tracker, limits=limits))

    @app.before_request
    def _record_delivery() -> None:
        if request.endpoint == "eventtracking.events":
            app.config["DELIVERIES"].append(request.headers.get("Sec-Fetch-Mode"))

    @app.get("/")
    def page() -> str:
        return render_template_string(PAGE, flush_interval=int(request.args.get("flush", 100)))

    return app


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` with a real WSGI server on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
