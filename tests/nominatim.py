"""A stand-in for Nominatim on this machine: a real HTTP server that answers every
search with the results given, as Nominatim's JSON (``format=json``), for osmnx's real
geocoder (``tests/test_online_errors.py``, ``tests/test_online_local.py``)."""

from __future__ import annotations

import json
from http.server import ThreadingHTTPServer

from tests.stand_in import JsonHandler, serve


def serve_nominatim(results: list[dict[str, object]]) -> ThreadingHTTPServer:
    """Starts the stand-in and points osmnx's ``settings.nominatim_url`` at it; the
    caller shuts it down and gives the setting back."""
    import osmnx as ox

    body = json.dumps(results).encode()

    class Nominatim(JsonHandler):
        def do_GET(self) -> None:
            self.reply(200, body)

    server = serve(Nominatim)
    ox.settings.nominatim_url = f"http://127.0.0.1:{server.server_port}/"
    return server
