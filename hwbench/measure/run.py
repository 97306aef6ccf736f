"""Measure several cells (spot checks, ``hwbench measure``) and the measurement campaign's item function.

* :func:`measure_cells` — compile, check and measure the given cells now, locally, on an RPC
  device (``rpc=HOST:PORT, key=KEY``) or compile-only for a target that has no device here
  (``--target cuda``: latency NaN, memory and compile time filled).
* :func:`compile_campaign` — phase 1 of the campaign: compile and check every non-isomorphic
  cell in parallel (compiling does not disturb anything that matters), keep the memory columns in
  its shards and the libraries in a local cache (:func:`default_cache_dir`, not committed).
* :func:`measure_campaign` — phase 2, the campaign over the non-isomorphic cells of a config, on
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
from functools import lru_cache
from pathlib import Path
from typing import Any

SHARD_SIZE = 25


def campaign_name(config: str, protocol_name: str = "1-thread", tuned: bool = True) -> str:
    return f"nb201-{config}-measure-{protocol_name}" + ("" if tuned else "-untuned")


def compile_campaign_name(config: str, tuned: bool = True) -> str:
    return f"nb201-{config}-compile" + ("" if tuned else "-untuned")


def _database(database: str | os.PathLike[str] | None) -> Any:
    if database is None:
        return None
    from hwbench.measure.tuning import load_database

    return load_database(database)


@lru_cache(maxsize=2)
def _campaign_database(path: str | None) -> Any:
    """The database of a campaign worker, loaded once per process (parsing records.json for every cell
    would cost about as much as compiling it)."""
    return _database(path)


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
                  frameworks: Sequence[str] = ("tvm",), rpc: str | None = None, key: str | None = None,
                  progress: bool = False) -> list[dict[str, Any]]:
    """Measure ``cells`` (architecture strings or indices) with ``protocol``; one record per cell.

    ``progress`` shows a tqdm bar on stderr (a tuned cifar10 cell with three frameworks takes ~10 s).
    """
    from tqdm.auto import tqdm

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
    for cell in tqdm(cells, desc=f"measure {config}", unit="cell", disable=not progress):
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
def default_cache_dir() -> Path:
    """Where compiled cells are cached between the compile and measure phases (not committed).

    ``$HWBENCH_COMPILE_CACHE`` or ``~/.cache/hwbench/compiled``; a cifar10 cell is ~1.8 MB, so the
    whole space of one config is ~10 GB.
    """
    env = os.environ.get("HWBENCH_COMPILE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "hwbench" / "compiled"


def _cell_cache(cache: str | os.PathLike[str], config: str, target: Mapping[str, Any], digest: str | None) -> Path:
    from hwbench.measure.compile import cache_key

    return Path(cache) / config / cache_key(target, digest)


def compile_item(item: Mapping[str, Any], *, database: str | None = None, cache: str | None = None) -> dict[str, Any]:
    """Compile-phase campaign function: compile + check one cell, cache the library, return its memory record.

    The library goes to ``<cache>/<config>/<target+database key>/<index>.so`` for the measure phase;
    the returned record (memory, parameter bytes, check error, compile time) is what the shard keeps.
    """
    import torch

    from hwbench.measure.compile import compile_cell, save_compiled
    from hwbench.spaces.nb201 import SPACE, is_connected

    torch.set_num_threads(1)
    digest = item.get("database_sha256")
    if digest is not None and database_digest(database) != digest:
        from hwbench.errors import HwbenchError

        raise HwbenchError(f"tuning database {database} has sha256 {database_digest(database)}, the campaign "
                           f"was started against {digest}")
    # with a cache the check runs on the written library (save_compiled(check=True)): no second JIT compile
    cc = compile_cell(int(item["index"]), str(item["config"]), target=item["target"],
                      database=_campaign_database(database), check=cache is None)
    if cache is not None:
        save_compiled(cc, _cell_cache(cache, str(item["config"]), item["target"], digest), database_sha256=digest,
                      check=True)
    arch = SPACE.arch_str(int(item["index"]))
    return {"arch": arch, "index": int(item["index"]), "config": str(item["config"]),
            "connected": is_connected(SPACE.parse(arch)),
            "planned_activation_bytes": cc.memory["planned_activation_bytes"],
            "output_bytes": cc.memory["output_bytes"], "param_bytes": cc.param_bytes,
            "check_max_abs_err": cc.check.get("max_abs_err", math.nan), "compile_s": cc.compile_s,
            "tuned": cc.tuned}


def measure_item(item: Mapping[str, Any], *, database: str | None = None, cache: str | None = None) -> dict[str, Any]:
    """Measure-phase campaign function: time one cell (``item = {"index", "config", "protocol", "target", ...}``).

    Uses the library cached by :func:`compile_item` when ``cache`` holds it (same target and
    database), else compiles (and checks) the cell here.
    """
    import torch

    from hwbench.measure.compile import load_compiled
    from hwbench.measure.protocol import Protocol, measure_cell

    torch.set_num_threads(1)
    protocol = Protocol(**item["protocol"])
    digest = item.get("database_sha256")
    compiled = None
    if cache is not None:
        compiled = load_compiled(_cell_cache(cache, str(item["config"]), item["target"], digest), int(item["index"]),
                                 target=item["target"], database_sha256=digest)
    if compiled is None and digest is not None and database_digest(database) != digest:
        from hwbench.errors import HwbenchError

        raise HwbenchError(f"tuning database {database} has sha256 {database_digest(database)}, the campaign "
                           f"was started against {digest}")
    rec = measure_cell(int(item["index"]), str(item["config"]), protocol=protocol, target=item["target"],
                       database=None if compiled is not None else _campaign_database(database),
                       frameworks=tuple(item.get("frameworks", ("tvm",))), compiled=compiled)
    rec["from_cache"] = compiled is not None
    fp = rec.pop("fingerprint")
    rec["host"] = {k: fp[k] for k in ("hostname", "cpu_model", "cpu_flags_sha256", "threads")}
    return rec


def campaign_items(config: str, *, protocol: Any = None, target: Mapping[str, Any] | None = None,
                   database: str | os.PathLike[str] | None = None, frameworks: Sequence[str] = ("tvm",),
                   cells: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One item per non-isomorphic cell (``SPACE.representatives``), in index order, or the given ``cells``.

    An item names the tuning database by its sha256 (not by path), so a campaign resumes from
    another checkout or machine as long as the database content is the same.
    """
    from dataclasses import asdict

    from hwbench.measure.compile import host_target
    from hwbench.measure.protocol import ONE_THREAD
    from hwbench.spaces.nb201 import SPACE

    protocol = protocol or ONE_THREAD
    tdict = dict(target) if target is not None else host_target()
    idx = [int(i) for i in (SPACE.representatives if cells is None else cells)]
    digest = database_digest(database)
    return [{"index": i, "config": config, "protocol": asdict(protocol), "target": tdict, "database_sha256": digest,
             "frameworks": list(frameworks)} for i in idx]


def campaign_protocol(config: str, items: Sequence[Mapping[str, Any]], database: str | os.PathLike[str] | None,
                      phase: str = "measure") -> dict[str, Any]:
    from importlib.metadata import version

    first = items[0] if items else {}
    what = {"measure": "TVM-compiled latency and memory of deployed NB201 cells (BN folded, none removed)",
            "compile": "TVM compile + numerical check + static memory plan of deployed NB201 cells"}[phase]
    out = {"what": what, "config": config, "target": first.get("target"), "database_sha256": database_digest(database),
           "apache-tvm": version("apache-tvm"), "apache-tvm-ffi": version("apache-tvm-ffi"), "batch": 1}
    if phase == "measure":
        out.update({"protocol": first.get("protocol"), "frameworks": first.get("frameworks")})
    return out


def compile_campaign(config: str = "cifar10", *, store_dir: str | os.PathLike[str] = "datasets/shards",
                     target: Mapping[str, Any] | None = None, database: str | os.PathLike[str] | None = None,
                     cache: str | os.PathLike[str] | None = None, executor: str = "local", workers: int = 2,
                     client: Any = None, address: str | None = None, limit: int | None = None,
                     progress: bool = True, cells: Sequence[int] | None = None, name: str | None = None,
                     shard_size: int = SHARD_SIZE) -> Any:
    """Compile phase: compile + check every non-isomorphic cell in parallel, cache the libraries.

    Its shards hold the memory columns (planned activations, parameter bytes), which do not
    depend on machine load; the libraries wait in ``cache`` for :func:`measure_campaign`.
    """
    from functools import partial

    from hwbench.campaign import run_campaign

    items = [{k: v for k, v in it.items() if k in ("index", "config", "target", "database_sha256")}
             for it in campaign_items(config, target=target, database=database, cells=cells)]
    fn = partial(compile_item, database=None if database is None else str(Path(database).resolve()),
                 cache=str(Path(cache or default_cache_dir()).resolve()))
    return run_campaign(name or compile_campaign_name(config, database is not None),
                        items, fn, shard_size=shard_size, store_dir=store_dir, executor=executor, workers=workers,
                        client=client, address=address, progress=progress,
                        protocol=campaign_protocol(config, items, database, phase="compile"),
                        max_shards=None if limit is None else math.ceil(limit / shard_size))


def measure_campaign(config: str = "cifar10", *, store_dir: str | os.PathLike[str] = "datasets/shards",
                     protocol: Any = None, target: Mapping[str, Any] | None = None,
                     database: str | os.PathLike[str] | None = None, frameworks: Sequence[str] = ("tvm",),
                     cache: str | os.PathLike[str] | None = None,
                     executor: str = "local", workers: int = 1, client: Any = None, address: str | None = None,
                     limit: int | None = None, progress: bool = True, cells: Sequence[int] | None = None,
                     name: str | None = None, shard_size: int = SHARD_SIZE) -> Any:
    """Run or resume the measurement campaign of ``config`` (see the module docstring).

    With ``cache`` (default :func:`default_cache_dir`) the libraries of the compile phase are
    loaded instead of compiling again; cells not in the cache are compiled on the spot.
    """
    from functools import partial

    from hwbench.campaign import run_campaign
    from hwbench.measure.protocol import ONE_THREAD

    protocol = protocol or ONE_THREAD
    items = campaign_items(config, protocol=protocol, target=target, database=database, frameworks=frameworks,
                           cells=cells)
    fn = partial(measure_item, database=None if database is None else str(Path(database).resolve()),
                 cache=str(Path(cache or default_cache_dir()).resolve()))
    return run_campaign(name or campaign_name(config, protocol.name, database is not None), items, fn,
                        shard_size=shard_size, store_dir=store_dir, executor=executor, workers=workers,
                        client=client, address=address, progress=progress,
                        protocol=campaign_protocol(config, items, database),
                        max_shards=None if limit is None else math.ceil(limit / shard_size))
