"""A generic, resumable, sharded campaign engine (training, TVM measurement, proxies ...).

``run_campaign(name, items, fn, shard_size=..., store_dir=...)`` calls ``fn(item)`` for every item,
in parallel over local worker processes or a Dask cluster, and writes the results shard by shard:

* shard ``k`` holds ``items[k * shard_size : (k + 1) * shard_size]``, so a shard's content depends
  only on the item list and the shard size (both pinned by ``<store_dir>/<name>/campaign.json``);
* a shard is written only when all its items are done, atomically (temporary file + ``os.replace``),
  as a small JSON file ``<store_dir>/<name>/shard-00012.json`` with the items, the results, a sha256
  of the results, the protocol, tool versions, the hosts that ran it and timestamps;
* on a re-run, valid shards are skipped; an invalid shard (unreadable, checksum mismatch, other
  items) raises :class:`CampaignShardError` naming the file (or is redone with ``redo_invalid=True``);
* Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt`` by the caller) leaves finished shards intact;
  at most the in-flight items are lost.

``fn`` must be a picklable module-level function taking one JSON-serializable item and returning a
JSON-serializable dict (NaN and infinities are stored as ``null`` and read back as NaN by :func:`merge`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError

FORMAT = "hwbench-campaign-shard/1"
EXECUTORS = ("local", "dask")
_VERSIONED = ("hwbench", "numpy", "torch", "apache-tvm", "dask", "distributed", "xgboost")


class CampaignError(HwbenchError):
    """A campaign cannot run or resume as asked (item failure, mismatching manifest ...)."""


class CampaignShardError(CampaignError):
    """A shard file on disk is unreadable, altered or belongs to other items."""


@dataclass
class CampaignReport:
    name: str
    path: Path
    items: int
    shards: int
    shards_skipped: int  # already on disk and valid at start
    shards_written: int = 0
    items_run: int = 0
    seconds: float = 0.0
    shards_redone: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.shards_skipped + self.shards_written == self.shards


# ----------------------------------------------------------------------------- provenance
def tool_versions() -> dict[str, str]:
    """Installed versions of the tools that matter (looked up in package metadata; nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in _VERSIONED:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


@lru_cache(maxsize=1)
def host_fingerprint() -> dict[str, Any]:
    """Identity of the machine running this process (stored with every shard)."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def first_shard(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The first finished shard under a campaign folder (its protocol and hosts describe the campaign);
    ``{}`` when none is finished."""
    paths = sorted(Path(root).glob("shard-*.json"))
    return json.loads(paths[0].read_text()) if paths else {}


def hosts_summary(shard: Mapping[str, Any]) -> str:
    """``"<cpu> (<n> logical cores, <machine>)"`` for every distinct host that ran a shard's items."""
    hosts = sorted({f"{h.get('cpu', '?')} ({h.get('cpu_count', '?')} logical cores, {h.get('machine', '?')})"
                    for h in shard.get("hosts", [])})
    return "; ".join(hosts) or "unknown host"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- JSON helpers
def _clean(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars/arrays -> Python, tuples -> lists."""
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, np.generic):
        return _clean(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    return hashlib.sha256(blob).hexdigest()


def _write_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- layout
def campaign_dir(name: str, store_dir: str | os.PathLike[str]) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise CampaignError(f"campaign name {name!r} must be a non-empty file name without '/'")
    return Path(store_dir) / name


def shard_path(name: str, store_dir: str | os.PathLike[str], k: int) -> Path:
    return campaign_dir(name, store_dir) / f"shard-{k:05d}.json"


def shard_items(items: Sequence[Any], shard_size: int, k: int) -> list[Any]:
    return list(items[k * shard_size : (k + 1) * shard_size])


def read_shard(path: Path, *, expected_items: list[Any] | None = None, name: str | None = None) -> dict[str, Any]:
    """Read and validate one shard file; raise :class:`CampaignShardError` if it is not valid."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise CampaignShardError(f"shard {path} is unreadable ({exc}); delete it to recompute it") from None
    why = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        why = f"not a {FORMAT} file"
    elif name is not None and data.get("campaign") != name:
        why = f"belongs to campaign {data.get('campaign')!r}, not {name!r}"
    elif not isinstance(data.get("results"), list) or len(data["results"]) != len(data.get("items", [])):
        why = "results and items differ in length"
    elif _digest(data["results"]) != data.get("results_sha256"):
        why = "results do not match their sha256 (file altered or corrupted)"
    elif _digest(data["items"]) != data.get("items_sha256"):
        why = "items do not match their sha256 (file altered or corrupted)"
    elif expected_items is not None and _clean(expected_items) != data["items"]:
        why = "holds other items than this campaign's shard (item list or shard size changed?)"
    if why:
        raise CampaignShardError(f"shard {path} is invalid: {why}; delete it to recompute it")
    return data  # type: ignore[no-any-return]


def _manifest(name: str, items: Sequence[Any], shard_size: int, protocol: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": "hwbench-campaign/1",
        "campaign": name,
        "shard_size": shard_size,
        "n_items": len(items),
        "n_shards": math.ceil(len(items) / shard_size),
        "items_sha256": _digest(_clean(list(items))),
        "protocol": _clean(dict(protocol)),
    }


# ----------------------------------------------------------------------------- worker side
def _call(fn: Callable[[Any], Mapping[str, Any]], item: Any) -> tuple[dict[str, Any], dict[str, Any], float]:
    t0 = time.perf_counter()
    result = fn(item)
    if not isinstance(result, Mapping):
        raise CampaignError(f"campaign function returned {type(result).__name__} for {item!r}; expected a dict")
    return _clean(dict(result)), host_fingerprint(), time.perf_counter() - t0


def probe(item: Mapping[str, Any]) -> dict[str, Any]:
    """A cheap campaign function for checking a cluster and for tests.

    ``item = {"x": int, "marker_dir": str | None}``: returns ``x**2`` and ``sqrt(x)``; when
    ``marker_dir`` is set, records the call as a file there and fails if ``FAIL-<x>`` exists there.
    """
    x = int(item["x"])
    marker_dir = item.get("marker_dir")
    if marker_dir:
        d = Path(marker_dir)
        (d / f"call-{x}-{os.getpid()}-{time.monotonic_ns()}").touch()
        if (d / f"FAIL-{x}").exists():
            raise RuntimeError(f"probe asked to fail on x={x}")
    return {"x": x, "square": x * x, "sqrt": math.sqrt(x) if x >= 0 else math.nan, "vec": [x, x + 1]}


# ----------------------------------------------------------------------------- executors
class _Local:
    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        self.slots = workers

    def submit(self, fn: Callable[..., Any], item: Any) -> Any:
        return self.pool.submit(_call, fn, item)

    def wait_any(self, futures: set[Any]) -> set[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        return set(wait(futures, return_when=FIRST_COMPLETED).done)

    def close(self, cancel: bool, wait: bool = True, futures: Sequence[Any] = ()) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel)


class _Dask:
    def __init__(self, client: Any, address: str | None, workers: int) -> None:
        try:
            import distributed
        except ImportError:
            from hwbench.errors import MissingDependencyError

            raise MissingDependencyError("distributed", "dask", "the dask campaign executor") from None
        self.distributed = distributed
        self.own = client is None
        if client is None and not address:
            raise CampaignError("the dask executor needs a `client` or a scheduler `address`")
        self.client: Any = client if client is not None else distributed.Client(address)  # type: ignore[no-untyped-call]
        nthreads = sum(self.client.nthreads().values()) or workers
        self.slots = max(nthreads, 1)

    def submit(self, fn: Callable[..., Any], item: Any) -> Any:
        return self.client.submit(_call, fn, item, pure=False)

    def wait_any(self, futures: set[Any]) -> set[Any]:
        done, _ = self.distributed.wait(list(futures), return_when="FIRST_COMPLETED")  # type: ignore[no-untyped-call]
        return set(done)

    def close(self, cancel: bool, wait: bool = True, futures: Sequence[Any] = ()) -> None:
        if cancel and futures:
            self.client.cancel(list(futures))
        if self.own:
            self.client.close()


# ----------------------------------------------------------------------------- driver
def run_campaign(
    name: str,
    items: Sequence[Any],
    fn: Callable[[Any], Mapping[str, Any]],
    *,
    shard_size: int,
    store_dir: str | os.PathLike[str],
    executor: str = "local",
    workers: int = 2,
    client: Any = None,
    address: str | None = None,
    progress: bool = True,
    protocol: Mapping[str, Any] | None = None,
    redo_invalid: bool = False,
    max_shards: int | None = None,
) -> CampaignReport:
    """Run ``fn`` over ``items`` shard by shard under ``<store_dir>/<name>/``; resume where it stopped.

    Args:
        name: campaign name (a folder under ``store_dir``).
        items: JSON-serializable items; their order defines the shards.
        fn: picklable module-level function ``item -> dict``.
        shard_size: items per shard (pinned by the campaign manifest on the first run).
        executor: ``"local"`` (a spawn-context process pool of ``workers`` processes) or ``"dask"``
            (``client``, or a new ``distributed.Client(address)``).
        protocol: what fixes the results (recipe, seeds ...), stored in the manifest and every shard;
            resuming with another protocol raises.
        redo_invalid: recompute invalid shards (the bad file is renamed ``*.invalid``) instead of raising.
        max_shards: stop after this many shards were written in this call (for partial runs).
    """
    if executor not in EXECUTORS:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("executor", executor, EXECUTORS)
    if shard_size < 1:
        raise CampaignError(f"shard_size {shard_size}: expected >= 1")
    if workers < 1:
        raise CampaignError(f"workers {workers}: expected >= 1")
    items = list(items)
    protocol = dict(protocol or {})
    root = campaign_dir(name, store_dir)
    manifest = _manifest(name, items, shard_size, protocol)
    mpath = root / "campaign.json"
    if mpath.exists():
        try:
            old = json.loads(mpath.read_text())
        except ValueError as exc:
            raise CampaignError(f"campaign manifest {mpath} is unreadable ({exc})") from None
        diff = [k for k in ("shard_size", "n_items", "items_sha256", "protocol") if old.get(k) != manifest[k]]
        if diff:
            raise CampaignError(
                f"campaign {name!r} in {root} was started with another {', '.join(diff)}; "
                "use another campaign name or store_dir, or delete the folder to restart"
            )
    else:
        _write_atomic(mpath, {**manifest, "created": _now(), "tool_versions": tool_versions()})

    n_shards = manifest["n_shards"]
    todo: list[int] = []
    redone: list[int] = []
    for k in range(n_shards):
        p = shard_path(name, store_dir, k)
        if not p.exists():
            todo.append(k)
            continue
        try:
            read_shard(p, expected_items=shard_items(items, shard_size, k), name=name)
        except CampaignShardError:
            if not redo_invalid:
                raise
            os.replace(p, p.with_suffix(".json.invalid"))
            redone.append(k)
            todo.append(k)
    report = CampaignReport(name, root, len(items), n_shards, n_shards - len(todo), shards_redone=redone)
    if not todo:
        return report
    if max_shards is not None:
        todo = todo[: max(0, max_shards)]

    ex: _Local | _Dask = _Local(workers) if executor == "local" else _Dask(client, address, workers)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        done_items = len(items) - sum(len(shard_items(items, shard_size, k)) for k in todo)
        bar = tqdm(total=len(items), initial=done_items, unit="item", desc=name, smoothing=0.05, dynamic_ncols=True)

    def queue() -> Iterator[tuple[int, int, Any]]:
        for k in todo:
            for j, it in enumerate(shard_items(items, shard_size, k)):
                yield k, j, it

    pending = queue()
    in_flight: dict[Any, tuple[int, int]] = {}
    partial: dict[int, dict[str, Any]] = {}
    max_in_flight = 2 * ex.slots
    t_start = time.perf_counter()
    cancelled, interrupted = True, False
    try:
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < max_in_flight:
                nxt = next(pending, None)
                if nxt is None:
                    exhausted = True
                    break
                k, j, it = nxt
                partial.setdefault(k, {"results": {}, "started": _now(), "hosts": []})
                in_flight[ex.submit(fn, it)] = (k, j)
            if not in_flight:
                break
            for fut in ex.wait_any(set(in_flight)):
                k, j = in_flight.pop(fut)
                try:
                    result, host, seconds = fut.result()
                except Exception as exc:
                    it = shard_items(items, shard_size, k)[j]
                    raise CampaignError(f"campaign {name!r}: item {it!r} (shard {k}) failed: {exc!r}") from exc
                st = partial[k]
                if host not in st["hosts"]:
                    st["hosts"].append(host)
                st["results"][j] = (result, st["hosts"].index(host), seconds)
                report.items_run += 1
                if bar is not None:
                    bar.update(1)
                expected = shard_items(items, shard_size, k)
                if len(st["results"]) == len(expected):
                    _write_shard(name, store_dir, k, expected, st, manifest, protocol)
                    del partial[k]
                    report.shards_written += 1
        cancelled = False
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        # on an item failure wait for the running items (no stray work after return); on Ctrl-C do not
        ex.close(cancel=cancelled, wait=not interrupted, futures=list(in_flight))
        if bar is not None:
            bar.close()
        report.seconds = time.perf_counter() - t_start
    return report


def _write_shard(
    name: str,
    store_dir: str | os.PathLike[str],
    k: int,
    items: list[Any],
    st: Mapping[str, Any],
    manifest: Mapping[str, Any],
    protocol: Mapping[str, Any],
) -> None:
    ordered = [st["results"][j] for j in range(len(items))]
    results = [r for r, _, _ in ordered]
    citems = _clean(items)
    _write_atomic(
        shard_path(name, store_dir, k),
        {
            "format": FORMAT,
            "campaign": name,
            "shard": k,
            "shard_size": manifest["shard_size"],
            "items": citems,
            "items_sha256": _digest(citems),
            "results": results,
            "results_sha256": _digest(results),
            "host_of_item": [h for _, h, _ in ordered],
            "seconds_of_item": [round(s, 4) for _, _, s in ordered],
            "hosts": st["hosts"],
            "protocol": _clean(dict(protocol)),
            "tool_versions": tool_versions(),
            "driver_host": host_fingerprint(),
            "started": st["started"],
            "finished": _now(),
        },
    )


# ----------------------------------------------------------------------------- reading back
def status(name: str, store_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """How far a campaign is: shards and items done (validated) out of the manifest's total."""
    root = campaign_dir(name, store_dir)
    mpath = root / "campaign.json"
    if not mpath.exists():
        raise CampaignError(f"no campaign {name!r} under {store_dir} (missing {mpath})")
    man = json.loads(mpath.read_text())
    shards = sorted(root.glob("shard-*.json"))
    n_items = sum(len(read_shard(p, name=name)["items"]) for p in shards)
    return {
        "campaign": name,
        "shards_done": len(shards),
        "shards_total": man["n_shards"],
        "items_done": n_items,
        "items_total": man["n_items"],
    }


def overview(store_dir: str | os.PathLike[str], tuning_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per campaign under ``store_dir`` (and per tuning campaign under ``tuning_dir``): how far it is."""
    rows: list[dict[str, Any]] = []
    base = Path(store_dir)
    for mpath in sorted(base.glob("*/campaign.json")):
        name = mpath.parent.name
        try:
            st = status(name, base)
        except (CampaignError, OSError, ValueError, KeyError) as exc:
            rows.append({"campaign": name, "kind": "shards", "done": "?", "total": "?", "unit": "shards",
                         "note": f"unreadable: {exc}"})
            continue
        rows.append({"campaign": name, "kind": "shards", "done": st["shards_done"], "total": st["shards_total"],
                     "unit": "shards", "note": f"{st['items_done']}/{st['items_total']} items"})
    if tuning_dir is not None:
        for spath in sorted(Path(tuning_dir).glob("*/campaign.json")):
            try:
                state = json.loads(spath.read_text())
                done, total = len(state.get("workloads", {})), state.get("n_workloads", "?")
                hours = float(state.get("seconds", 0.0)) / 3600
                note = f"{hours:.2f} h of tuning"
            except (OSError, ValueError) as exc:
                done, total, note = "?", "?", f"unreadable: {exc}"
            rows.append({"campaign": f"tune {spath.parent.name}", "kind": "tuning", "done": done, "total": total,
                         "unit": "workloads", "note": note})
    return rows


def _column(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        try:
            return np.array([[math.nan if x is None else x for x in v] for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            pass
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def merge(name: str, store_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All finished shards of a campaign as columns, in item order.

    Returns ``{"item": ..., "shard": ..., <result key>: ...}``: numbers as int64/float64 (missing
    = NaN), equal-length lists as 2-D float arrays, strings as str arrays, anything else as object
    arrays. A result key absent from some rows is NaN there. Invalid shards raise
    :class:`CampaignShardError`.
    """
    root = campaign_dir(name, store_dir)
    paths = sorted(root.glob("shard-*.json"))
    items: list[Any] = []
    shard_of: list[int] = []
    rows: list[dict[str, Any]] = []
    for p in paths:
        d = read_shard(p, name=name)
        items.extend(d["items"])
        shard_of.extend([d["shard"]] * len(d["items"]))
        rows.extend(d["results"])
    out: dict[str, np.ndarray] = {"item": _column(items), "shard": np.array(shard_of, dtype=np.int64)}
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    for key in keys:
        out[key] = _column([r.get(key) for r in rows])
    return out
