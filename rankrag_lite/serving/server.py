"""Run the rerank app on uvicorn: one process, one model, loopback by default, SIGTERM drains.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, lets the requests in flight finish
(the batch thread keeps scoring them), runs the app's shutdown, and the process exits 0 (uvicorn's
own signal capture re-raises the signal after shutdown, which would end the process with -15).
"""

from __future__ import annotations

import contextlib
import signal

import uvicorn


class _Server(uvicorn.Server):
    """uvicorn's server whose SIGTERM / SIGINT only ask for a graceful shutdown (exit status 0)."""

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(app, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until SIGTERM / SIGINT, then drain and return."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, workers=1, access_log=False,
                            timeout_graceful_shutdown=None, lifespan="on")
    _Server(config).run()
