"""External algorithms: any program speaking JSON lines over stdin/stdout (see docs/search.md).

The runner starts the program once per seed, writes one JSON object per line to its stdin and
reads one JSON object per line from its stdout. The program sees only what it is told: the task
spec, a seed, and the trials it proposed. Messages (runner -> program):

* ``{"type": "start", "protocol": 1, "seed": S, "spec": {...}}`` - no reply.
* ``{"type": "ask"}`` - reply with one line ``{"arch": "<NB201 string>"}`` or ``{"index": I}``
  (or ``{"ops": [6 op ids]}``); on multi-fidelity tasks (``spec.max_epochs`` set) optionally with
  ``"epochs": e``.
* ``{"type": "tell", "trial": {...}}`` - no reply.
* ``{"type": "stop"}`` - the program should exit with status 0.

Anything on stderr is kept (the last lines are shown on errors). Replies must arrive within
``timeout_s`` seconds. The process inherits the environment minus ``HWBENCH_*`` variables (which
locate tables and overlays). This is process separation, not a sandbox: a program can still read
files it has access to, so untrusted submissions belong in a container.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from hwbench.search._errors import ExternalAlgorithmError
from hwbench.search.algorithms.base import Algorithm, Query, Trial

PROTOCOL_VERSION = 1


class ExternalAlgorithm(Algorithm):
    """Drive a program (``command`` = argv list, no shell) through the JSON-lines protocol."""

    name = "external"

    def __init__(self, command: Sequence[str], timeout_s: float = 30.0, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        if not command:
            raise ValueError("ExternalAlgorithm needs a command")
        super().__init__(command=list(command), timeout_s=timeout_s)
        self.command = list(command)
        self.timeout_s = timeout_s
        self.cwd = cwd
        self.env = env
        self.name = "exec:" + " ".join(self.command)
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = b""

    def _setup(self) -> None:
        self.close()
        seed = int(self.rng.integers(0, 2**31 - 1))
        env = self.env if self.env is not None else {
            k: v for k, v in os.environ.items() if not k.startswith("HWBENCH_")
        }
        try:
            self._proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=env, bufsize=0,
            )
        except OSError as exc:
            raise ExternalAlgorithmError(f"cannot start external algorithm {self.command!r}: {exc}") from None
        self._buf = b""
        self._stderr = b""
        self._broken = False
        self._send({"type": "start", "protocol": PROTOCOL_VERSION, "seed": seed,
                    "spec": self.spec.to_message()})  # type: ignore[union-attr]

    # -- transport ------------------------------------------------------------------------------
    def _fail(self, why: str) -> ExternalAlgorithmError:
        self._broken = True
        tail = ""
        p = self._proc
        if p is not None and p.stderr is not None:
            try:
                if p.poll() is not None:
                    self._stderr += p.stderr.read() or b""
            except (OSError, ValueError):
                pass
            lines = self._stderr.decode(errors="replace").strip().splitlines()[-5:]
            if lines:
                tail = "; its stderr ends with: " + " | ".join(lines)
        return ExternalAlgorithmError(f"external algorithm {' '.join(self.command)!r}: {why}{tail}")

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        data = (json.dumps(msg, allow_nan=False, separators=(", ", ": ")) + "\n").encode()
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail(f"exited (status {self._proc.poll()}) before reading {msg['type']!r}") from None

    def _readline(self) -> bytes:
        p = self._proc
        assert p is not None and p.stdout is not None and p.stderr is not None
        deadline = time.monotonic() + self.timeout_s
        out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(out_fd, selectors.EVENT_READ)
            sel.register(err_fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._fail(f"no reply within {self.timeout_s:g} s")
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, 65536)
                    if key.fd == err_fd:
                        if chunk:
                            self._stderr = (self._stderr + chunk)[-8192:]
                        else:
                            sel.unregister(err_fd)
                        continue
                    if not chunk:
                        p.wait(timeout=5)
                        raise self._fail(f"closed its stdout (exit status {p.returncode}) instead of replying")
                    self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    # -- ask / tell -----------------------------------------------------------------------------
    def ask(self) -> str | int | list[int] | Query:
        self._send({"type": "ask"})
        raw = self._readline()
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError:
            raise self._fail(f"replied {raw[:200]!r}, which is not a JSON object") from None
        if isinstance(msg, dict):
            for key in ("arch", "index", "ops"):
                if key in msg:
                    arch = msg[key]
                    if isinstance(arch, list):
                        arch = tuple(arch)
                    if msg.get("epochs") is not None:
                        return Query(arch, msg["epochs"])
                    return arch  # type: ignore[no-any-return]
        raise self._fail(f"replied {raw[:200]!r}; expected {{\"arch\": ...}}, {{\"index\": ...}} or {{\"ops\": [...]}}")

    def tell(self, trial: Trial) -> None:
        self._send({"type": "tell", "trial": trial.to_message()})

    def close(self) -> None:
        p = self._proc
        if p is None:
            return
        self._proc = None
        try:
            if getattr(self, "_broken", False):
                p.kill()  # it already broke the protocol: no grace period
            elif p.poll() is None and p.stdin is not None:
                try:
                    p.stdin.write(b'{"type": "stop"}\n')
                    p.stdin.close()  # EOF as well, for programs that read until end of input
                except (BrokenPipeError, OSError):
                    pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        finally:
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None and not f.closed:
                    try:
                        f.close()
                    except OSError:
                        pass
