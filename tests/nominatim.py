"""A stand-in for Nominatim on this machine: a real HTTP server that answers every
search with the results given, as Nominatim's JSON (``format=json``), for osmnx's real
geocoder (``tests/test_online_errors.py``, ``tests/test_online_local.py``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_nominatim(results: list[dict[str, object]]) -> ThreadingHTTPServer:
    """Starts the stand-in and points osmnx's ``settings.nominatim_url`` at it; the
    caller shuts it down and gives the setting back."""
    import osmnx as ox

    body = json.dumps(results).encode()

    class Nominatim(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ox.settings.nominatim_url = f"http://127.0.0.1:{server.server_port}/"
    return server
