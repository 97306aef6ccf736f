"""Measure on a remote device registered with TVM's RPC tracker (Raspberry Pis, phones, boards).

The host compiles the cell for the device's target (a dict, e.g. ``{"kind": "llvm", "mtriple":
"aarch64-linux-gnu", "mattr": ["+neon"]}``; cross-compiling needs ``cc`` for that triple via
``export_kwargs``), exports a shared library, asks the tracker for a session on ``key``, uploads
and loads the library there, checks the output against PyTorch eager on the host, fixes the
device's thread pool and times the VM with ``time_evaluator`` under the same protocol as locally.

On the device: ``python -m tvm.exec.rpc_server --tracker HOST:PORT --key KEY`` (TVM runtime only).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError


class RemoteError(HwbenchError):
    """The RPC tracker or device could not be reached or used."""


def parse_hostport(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` -> ``(host, port)`` (raises naming the bad input)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RemoteError(f"--rpc {text!r}: expected HOST:PORT of a TVM RPC tracker, e.g. 127.0.0.1:9190")
    return host, int(port)


def request_session(tracker: str, key: str, *, priority: int = 1, session_timeout: float = 600.0,
                    max_retry: int = 3, connect_timeout: float = 10.0) -> Any:
    """A session on a device of ``key`` from the tracker at ``tracker`` (``HOST:PORT``)."""
    import socket

    from tvm import rpc

    host, port = parse_hostport(tracker)
    try:  # fail fast (connect_tracker retries for a minute)
        socket.create_connection((host, port), timeout=connect_timeout).close()
        client = rpc.connect_tracker(host, port)
    except Exception as exc:
        raise RemoteError(f"cannot reach the RPC tracker at {host}:{port}: {exc}") from exc
    try:
        return client.request(key, priority=priority, session_timeout=session_timeout, max_retry=max_retry)
    except Exception as exc:
        raise RemoteError(f"tracker {host}:{port} gave no session for key {key!r}: {exc}") from exc


def measure_remote(arch: str | Sequence[int], config: str = "cifar10", *, tracker: str, key: str,
                   target: Mapping[str, Any] | None = None, protocol: Any = None, database: Any = None,
                   export_kwargs: Mapping[str, Any] | None = None, session: Any = None) -> dict[str, Any]:
    """Compile for ``target`` (default: this host's), run and time on the device; a flat record.

    The record has the same latency/memory keys as :func:`hwbench.measure.protocol.measure_cell`
    plus ``device`` (``rpc:KEY@HOST:PORT``); ``threads`` is the device runtime's pool size.
    """
    import numpy as np
    import torch

    from hwbench.measure.compile import (
        ATOL_REL,
        RTOL,
        compile_cell,
        example_input,
        host_target,
        reference_model,
    )
    from hwbench.measure.protocol import ONE_THREAD, _timing_cols, fingerprint, time_tvm
    from hwbench.spaces.nb201 import SPACE, get_config, is_connected

    protocol = protocol or ONE_THREAD
    cfg = get_config(config)
    arch_s = SPACE.arch_str(arch)
    tdict = dict(target) if target is not None else host_target()
    cc = compile_cell(arch_s, cfg.name, target=tdict, database=database, check=False)
    sess = session or request_session(tracker, key)
    x = example_input(cfg.name)
    with tempfile.TemporaryDirectory(prefix="hwbench-rpc-") as tmp:
        lib = Path(tmp) / "cell.so"
        cc.export(lib, **dict(export_kwargs or {}))
        sess.upload(str(lib))
        rlib = sess.load_module(lib.name)
    from tvm import relax

    dev = sess.cpu() if tdict.get("kind") == "llvm" else sess.device(str(tdict.get("kind")), 0)
    vm = relax.VirtualMachine(rlib, dev)
    import tvm

    out = vm["main"](tvm.runtime.tensor(x.numpy(), dev))
    got = (out if hasattr(out, "numpy") else out[0]).numpy()
    with torch.no_grad():
        want = reference_model(arch_s, cfg.name)(x).numpy()
    err = np.abs(got - want)
    atol = ATOL_REL * max(1.0, float(np.abs(want).max()))
    if not np.all(err <= atol + RTOL * np.abs(want)):
        raise RemoteError(f"{arch_s} on rpc:{key} disagrees with PyTorch eager: max |err| {err.max():.3g}")
    t = time_tvm(vm, x.numpy(), dev, protocol, session=sess)
    host, port = parse_hostport(tracker)
    rec: dict[str, Any] = {"arch": arch_s, "index": SPACE.index(arch_s), "config": cfg.name,
                           "connected": is_connected(SPACE.parse(arch_s)), "protocol": protocol.name,
                           "device": f"rpc:{key}@{host}:{port}"}
    rec.update(_timing_cols("", t))
    rec.update({"planned_activation_bytes": cc.memory["planned_activation_bytes"], "output_bytes": cc.memory["output_bytes"],
                "param_bytes": cc.param_bytes, "check_max_abs_err": float(err.max()), "compile_s": cc.compile_s,
                "tuned": cc.tuned})
    fp = fingerprint(tdict, protocol)
    fp["host_role"] = "compiled on this host; measured on the RPC device"
    rec["fingerprint"] = fp
    if math.isnan(rec["latency_ms"]):
        raise RemoteError("no latency measured")
    return rec
