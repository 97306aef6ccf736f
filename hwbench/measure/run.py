"""Measure several cells (spot checks, ``hwbench measure``) and the measurement campaign's item function.

* :func:`measure_cells` — compile, check and measure the given cells now, locally, on an RPC
  device (``rpc=HOST:PORT, key=KEY``) or compile-only for a target that has no device here
  (``--target cuda``: latency NaN, memory and compile time filled).
* :func:`measure_campaign` — the campaign over the non-isomorphic cells of a config, on
  :func:`hwbench.campaign.run_campaign` (sharded, resumable, local processes or Dask); results
  are broadcast to all 15,625 cells through the canonical form by the merge step. Measurements
  disturb each other: run one worker per machine (``workers=1``) unless the protocol's threads
  times the workers fit in the cores, and never beside other CPU work.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SHARD_SIZE = 25


def campaign_name(config: str, protocol_name: str = "1-thread", tuned: bool = True) -> str:
    return f"nb201-{config}-measure-{protocol_name}" + ("" if tuned else "-untuned")


def _database(database: str | os.PathLike[str] | None) -> Any:
    if database is None:
        return None
    from hwbench.measure.tuning import load_database

    return load_database(database)


def database_digest(database: str | os.PathLike[str] | None) -> str | None:
    """sha256 of the database files (recorded with every measurement made against it)."""
    if database is None:
        return None
    from hwbench.measure.tuning import RECORDS_FILE, WORKLOADS_FILE

    h = hashlib.sha256()
    for name in (WORKLOADS_FILE, RECORDS_FILE):
        h.update((Path(database) / name).read_bytes())
    return h.hexdigest()


def measure_cells(cells: Sequence[str | int], config: str = "cifar10", *, protocol: Any = None,
                  target: Mapping[str, Any] | None = None, database: str | os.PathLike[str] | None = None,
                  frameworks: Sequence[str] = ("tvm",), rpc: str | None = None, key: str | None = None
                  ) -> list[dict[str, Any]]:
    """Measure ``cells`` (architecture strings or indices) with ``protocol``; one record per cell."""
    from hwbench.errors import HwbenchError
    from hwbench.measure.compile import host_target
    from hwbench.measure.protocol import ONE_THREAD, measure_cell
    from hwbench.spaces.nb201 import SPACE, get_config

    protocol = protocol or ONE_THREAD
    cfg = get_config(config)
    tdict = dict(target) if target is not None else host_target()
    db = _database(database)
    digest = database_digest(database)
    out: list[dict[str, Any]] = []
    session = None
    for cell in cells:
        arch = SPACE.arch_str(int(cell) if isinstance(cell, str) and cell.isdigit() else cell)
        if rpc is not None:
            from hwbench.measure.remote import measure_remote, request_session

            if not key:
                raise HwbenchError("--rpc needs --key (the device key registered with the tracker)")
            session = session or request_session(rpc, key)
            rec = measure_remote(arch, cfg.name, tracker=rpc, key=key, target=tdict, protocol=protocol,
                                 database=db, session=session)
        elif tdict.get("kind") != "llvm":
            rec = _compile_only_or_device(arch, cfg.name, tdict, protocol)
        else:
            rec = measure_cell(arch, cfg.name, protocol=protocol, target=tdict, database=db, frameworks=frameworks)
        rec["database_sha256"] = digest
        out.append(rec)
    return out


def _compile_only_or_device(arch: str, config: str, target: Mapping[str, Any], protocol: Any) -> dict[str, Any]:
    """A non-CPU target: compile; measure if such a device exists here, else latency NaN."""
    import tvm

    from hwbench.measure.compile import compile_cell, example_input
    from hwbench.measure.protocol import _timing_cols, fingerprint, time_tvm
    from hwbench.spaces.nb201 import SPACE, is_connected

    cc = compile_cell(arch, config, target=target, check=False)
    kind = str(target.get("kind"))
    rec: dict[str, Any] = {"arch": arch, "index": SPACE.index(arch), "config": config,
                           "connected": is_connected(SPACE.parse(arch)), "protocol": protocol.name,
                           "device": kind, "planned_activation_bytes": cc.memory["planned_activation_bytes"],
                           "output_bytes": cc.memory["output_bytes"], "param_bytes": cc.param_bytes,
                           "compile_s": cc.compile_s, "tuned": cc.tuned}
    dev = tvm.device(kind, 0)
    if dev.exist:
        rec["measured"] = True
        rec.update(_timing_cols("", time_tvm(cc.vm(dev), example_input(config).numpy(), dev, protocol)))
    else:
        rec["measured"] = False
        rec["latency_ms"] = math.nan
        rec["note"] = f"compile-only: no {kind} device on this host"
    rec["fingerprint"] = fingerprint(target, protocol)
    return rec


# ----------------------------------------------------------------------------- campaign
def measure_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Campaign function: measure one cell (``item = {"index", "config", "threads", "database", "target"}``)."""
    import torch

    from hwbench.measure.protocol import Protocol, measure_cell

    torch.set_num_threads(1)
    protocol = Protocol(**item["protocol"])
    rec = measure_cell(int(item["index"]), str(item["config"]), protocol=protocol, target=item["target"],
                       database=_database(item.get("database")), frameworks=tuple(item.get("frameworks", ("tvm",))))
    fp = rec.pop("fingerprint")
    rec["host"] = {k: fp[k] for k in ("hostname", "cpu_model", "cpu_flags_sha256", "threads")}
    return rec


def campaign_items(config: str, *, protocol: Any = None, target: Mapping[str, Any] | None = None,
                   database: str | os.PathLike[str] | None = None, frameworks: Sequence[str] = ("tvm",),
                   cells: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One item per non-isomorphic cell (``SPACE.representatives``), in index order, or the given ``cells``."""
    from dataclasses import asdict

    from hwbench.measure.compile import host_target
    from hwbench.measure.protocol import ONE_THREAD
    from hwbench.spaces.nb201 import SPACE

    protocol = protocol or ONE_THREAD
    tdict = dict(target) if target is not None else host_target()
    idx = [int(i) for i in (SPACE.representatives if cells is None else cells)]
    db = str(Path(database).resolve()) if database is not None else None
    return [{"index": i, "config": config, "protocol": asdict(protocol), "target": tdict, "database": db,
             "frameworks": list(frameworks)} for i in idx]


def campaign_protocol(config: str, items: Sequence[Mapping[str, Any]], database: str | os.PathLike[str] | None) -> dict[str, Any]:
    from importlib.metadata import version

    first = items[0] if items else {}
    return {"what": "TVM-compiled latency and memory of deployed NB201 cells (BN folded, none removed)",
            "config": config, "protocol": first.get("protocol"), "target": first.get("target"),
            "frameworks": first.get("frameworks"), "database_sha256": database_digest(database),
            "apache-tvm": version("apache-tvm"), "apache-tvm-ffi": version("apache-tvm-ffi"),
            "batch": 1}


def measure_campaign(config: str = "cifar10", *, store_dir: str | os.PathLike[str] = "datasets/shards",
                     protocol: Any = None, target: Mapping[str, Any] | None = None,
                     database: str | os.PathLike[str] | None = None, frameworks: Sequence[str] = ("tvm",),
                     executor: str = "local", workers: int = 1, client: Any = None, address: str | None = None,
                     limit: int | None = None, progress: bool = True, cells: Sequence[int] | None = None,
                     name: str | None = None, shard_size: int = SHARD_SIZE) -> Any:
    """Run or resume the measurement campaign of ``config`` (see the module docstring)."""
    from hwbench.campaign import run_campaign
    from hwbench.measure.protocol import ONE_THREAD

    protocol = protocol or ONE_THREAD
    items = campaign_items(config, protocol=protocol, target=target, database=database, frameworks=frameworks,
                           cells=cells)
    return run_campaign(name or campaign_name(config, protocol.name, database is not None), items, measure_item,
                        shard_size=shard_size, store_dir=store_dir, executor=executor, workers=workers,
                        client=client, address=address, progress=progress,
                        protocol=campaign_protocol(config, items, database),
                        max_shards=None if limit is None else math.ceil(limit / shard_size))
