"""Serve the built site on localhost (the standard library's threading HTTP server)."""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hwbench.errors import HwbenchError


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def make_server(site: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000,
                quiet: bool = True) -> ThreadingHTTPServer:
    """A server for ``site`` (not started; call ``serve_forever``). ``port=0`` picks a free port."""
    d = Path(site)
    if not (d / "index.html").is_file():
        raise HwbenchError(f"{d} has no index.html; run `hwbench leaderboard build` first")
    handler = functools.partial(_Quiet if quiet else SimpleHTTPRequestHandler, directory=str(d))
    return ThreadingHTTPServer((host, port), handler)


def serve(site: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted."""
    with make_server(site, host, port, quiet=False) as httpd:
        h, p = httpd.server_address[:2]
        print(f"serving {site} on http://{h!s}:{p}/ (Ctrl-C to stop)", flush=True)
        httpd.serve_forever()
