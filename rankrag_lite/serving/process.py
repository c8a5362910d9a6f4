"""``rankrag-lite serve`` as a child process: start it on a free loopback port, wait until it
answers ``/health``, stop it with SIGTERM (tests, ``benchmarks/serve_load.py``, notebooks).

    with ServeProcess("smollm2-135m-rankrag", "--api-key", "k") as server:
        requests.post(server.url + "/v1/rerank", ...)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServeProcess:
    """``python -m rankrag_lite serve --model MODEL --port P [args]``, its output in a log file."""

    def __init__(self, model: str, *args: str, port: int | None = None, env: dict | None = None,
                 startup_timeout: float = 300.0, nice: int = 0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "rankrag_lite", "serve", "--model", str(model), "--port", str(self.port),
                    "--log-level", "warning", *args]
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.nice = nice
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="rankrag-serve-", suffix=".log", delete=False)

    def log_tail(self, n: int = 30) -> str:
        with open(self.log.name, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def start(self) -> ServeProcess:
        preexec = (lambda: os.nice(self.nice)) if self.nice else None
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=preexec)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rankrag-lite serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(f"rankrag-lite serve did not answer /health in {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def terminate(self, timeout: float = 300.0) -> int:
        """SIGTERM, then the exit status (the server drains its requests first)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"rankrag-lite serve did not exit {timeout:.0f} s after SIGTERM:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.terminate()
        finally:
            self.kill()
            self.log.close()
            os.unlink(self.log.name)
