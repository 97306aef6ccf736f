"""The int8 TVM campaign of a compression space (runs on :func:`hwbench.campaign.run_campaign`).

Issue #9 asks, "for int8 configurations, TVM-compiled CPU latency where TVM supports it". The
all-int8 configurations of a space are those with every stage at ``w8`` / ``a8`` (one per pruning
choice: ``mpq-prune-small`` has 2 widths per stage, so 8 per base network and 32 for the four bases;
``mpq-prune`` 64 per base). Spaces without 8-bit options (``test-tiny``) have none.

**Items**: one per (base network, all-int8 configuration), ``{"base": role, "config": str, "index":
int, "space": name}``, bases in :data:`hwbench.compress.bases.ROLES` order, configurations in space
index order. One item per shard.

**Campaign function** (:func:`measure_item`): :func:`hwbench.compress.tvm_int8.compile_compressed`
(prune + BN recalibration, PTQ calibration, int8 network and its fp32 counterpart compiled for the
host with TVM Relax, both checked against torch on the first ``check_images`` test images), then
:meth:`~hwbench.compress.tvm_int8.CompressedCompiled.measure` with the campaign's
:class:`hwbench.measure.protocol.Protocol` (default :data:`~hwbench.measure.protocol.ONE_THREAD`).
Result: int8 / fp32 latency median, IQR, std, CV, repeats, stability flag and threads; their ratio;
planned activation bytes, parameter (constant) bytes, output bytes, compile seconds, kernel counts;
the numerical checks; the host fingerprint. Latency is measured, so the campaign runs one worker by
default and should run on a quiet machine.

**Protocol** (stored in the manifest and every shard; resuming with another one raises): the space,
the measurement protocol, the TVM target of this host, the TVM version, whether the pruned network is
fine-tuned (default no: without the fine-tune the weights differ from the accuracy table's, but every
shape, hence the compiled code, latency and memory, is the same), the check images and the sha256 of
each base file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from hwbench.compress.bases import DEFAULT_BASE_DIR, ROLES, base_path
from hwbench.compress.space import CompressionConfig, CompressionSpace, get_space

DEFAULT_STORE = Path("datasets") / "shards"
SHARD_SIZE = 1
#: the bit-width of every stage of an all-int8 configuration
INT8 = 8


def tvm_campaign_name(space: str = "mpq-prune-small") -> str:
    """``compress-<space>-tvm-int8``."""
    return f"compress-{space}-tvm-int8"


def int8_configs(space: CompressionSpace | str = "mpq-prune-small") -> list[str]:
    """The all-int8 configurations (every stage w8/a8) of ``space``, one per pruning choice, in index
    order; empty when the space has no 8-bit option."""
    sp = get_space(space)
    if INT8 not in sp.bits:
        return []
    return [str(CompressionConfig(w, (INT8,) * 3, (INT8,) * 3)) for w in sp.width_choices()]


def is_all_int8(space: CompressionSpace | str, config: str | int) -> bool:
    c = get_space(space).parse(config)
    return all(b == INT8 for b in (*c.w_bits, *c.a_bits))


def tvm_items(
    space: CompressionSpace | str = "mpq-prune-small",
    bases: Sequence[str] = ROLES,
    configs: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One item per (base, all-int8 configuration): bases in the given order, configurations in index
    order; ``configs`` restricts them to these all-int8 configurations (a smaller campaign)."""
    from hwbench.compress.space import InvalidCompressionConfigError

    sp = get_space(space)
    every = int8_configs(sp)
    chosen = every
    if configs is not None:
        want = {sp.canonical(c) for c in configs}
        bad = sorted(want - set(every))
        if bad:
            raise InvalidCompressionConfigError(
                f"{', '.join(bad)}: not an all-int8 configuration of {sp.name!r} (every stage w8/a8); the "
                f"int8 TVM campaign measures {', '.join(every) or 'none'}"
            )
        chosen = [c for c in every if c in want]
    return [
        {"base": role, "config": c, "index": sp.index(c), "space": sp.name} for role in bases for c in chosen
    ]


def measure_item(
    item: Mapping[str, Any],
    base_dir: str = str(DEFAULT_BASE_DIR),
    protocol: Mapping[str, Any] | None = None,
    finetune: bool = False,
    check_images: int | None = None,
    seed: int = 0,
    target: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Campaign function: compile, check and time the int8 network of one item and its fp32 counterpart.

    ``protocol``: the fields of a :class:`hwbench.measure.protocol.Protocol` (a dict, so that the item
    function stays JSON-describable); ``None`` = one thread. ``target``: the TVM target dict (default:
    this host's, :func:`hwbench.measure.compile.host_target`); the campaign passes the one it records.
    """
    import torch

    from hwbench.compress.tvm_int8 import CHECK_IMAGES, compile_compressed
    from hwbench.measure.protocol import ONE_THREAD, Protocol

    torch.set_num_threads(1)  # torch only prepares the network; TVM threads come from the protocol
    proto = Protocol(**dict(protocol)) if protocol is not None else ONE_THREAD
    r = compile_compressed(
        str(item["base"]),
        str(item["config"]),
        space=str(item["space"]),
        base_dir=base_dir,
        finetune=finetune,
        seed=seed,
        target=target,
        check_images=CHECK_IMAGES if check_images is None else int(check_images),
    )
    rec = r.measure(proto)
    rec.update(
        {
            "index": int(item["index"]),
            "int8_check_close_fraction": r.int8.check.get("close_fraction", math.nan),
            "fp32_check_close_fraction": r.fp32.check.get("close_fraction", math.nan),
            "check_images": r.int8.check.get("images", 0),
        }
    )
    return rec


def tvm_campaign_protocol(
    space: str,
    bases: Sequence[str],
    base_dir: str | os.PathLike[str],
    protocol: Any = None,
    finetune: bool = False,
    check_images: int | None = None,
    target: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What fixes the campaign's results (stored with every shard)."""
    from importlib.metadata import PackageNotFoundError, version

    from hwbench.compress.campaign import _sha256
    from hwbench.compress.tvm_int8 import (
        CHECK_IMAGES,
        INPUT_SEED,
        INT8_ATOL_REL,
        INT8_MIN_ARGMAX,
        INT8_MIN_CLOSE,
    )
    from hwbench.measure.compile import host_target
    from hwbench.measure.protocol import ONE_THREAD

    proto = protocol or ONE_THREAD
    try:
        tvm_version = version("apache-tvm")
    except PackageNotFoundError:  # pragma: no cover - compile_compressed fails first
        tvm_version = "?"
    sp = get_space(space)
    return {
        "what": "TVM-compiled (Relax, untuned default CPU pipeline) latency and memory of the all-int8 "
        "configurations (every stage w8/a8) of compressed nb201 base networks, and of their fp32 "
        "counterparts (the same pruned network unquantized); batch 1, seeded random input",
        "space": {"name": sp.name, "bits": list(sp.bits), "widths": list(sp.widths)},
        "measure": proto.to_dict(),
        "target": dict(target) if target is not None else host_target(),
        "apache-tvm": tvm_version,
        "batch": 1,
        "input_seed": INPUT_SEED,
        "finetune": bool(finetune),
        "network": "prune_network + BN recalibration"
        + (
            " + protocol fine-tune"
            if finetune
            else " (no fine-tune: same shapes as the accuracy table's network)"
        )
        + "; quantize_network calibration, bits {8}",
        "check": {
            "images": CHECK_IMAGES if check_images is None else int(check_images),
            "int8_atol_rel": INT8_ATOL_REL,
            "int8_min_close": INT8_MIN_CLOSE,
            "int8_min_argmax": INT8_MIN_ARGMAX,
        },
        "bases_sha256": {r: _sha256(base_path(r, base_dir)) for r in bases},
    }


def run_tvm_campaign(
    *,
    space: str = "mpq-prune-small",
    bases: Sequence[str] = ROLES,
    base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR,
    store_dir: str | os.PathLike[str] = DEFAULT_STORE,
    protocol: Any = None,
    threads: int | None = None,
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    finetune: bool = False,
    check_images: int | None = None,
    configs: Sequence[str] | None = None,
    name: str | None = None,
) -> Any:
    """Run (or resume) the int8 TVM campaign of ``space``; ``limit`` = at most this many items in this call.

    ``configs`` restricts the items to these all-int8 configurations (the item list is pinned by the
    campaign's manifest, so a restricted campaign needs its own ``store_dir`` or ``name``).

    ``protocol``: a :class:`hwbench.measure.protocol.Protocol` (default one thread); ``threads``
    overrides its thread count (0 = all cores). Returns the :class:`hwbench.campaign.CampaignReport`.

    Raises:
        CampaignError: the space has no all-int8 configuration, or the campaign was started with
            another protocol (e.g. on another host: the TVM target is part of it).
    """
    from dataclasses import replace

    from hwbench.campaign import CampaignError, run_campaign
    from hwbench.measure.protocol import ONE_THREAD

    sp = get_space(space)
    items = tvm_items(sp, bases, configs)
    if not items:
        raise CampaignError(
            f"compression space {sp.name!r} (bits {list(sp.bits)}) has no all-int8 configuration "
            "(every stage w8/a8); the int8 TVM campaign needs 8 among the bit-widths, e.g. "
            "--space mpq-prune-small"
        )
    proto = protocol or ONE_THREAD
    if threads is not None:
        proto = replace(proto, threads=int(threads))
    campaign_protocol = tvm_campaign_protocol(sp.name, bases, base_dir, proto, finetune, check_images)
    return run_campaign(
        name or tvm_campaign_name(sp.name),
        items,
        partial(
            measure_item,
            base_dir=str(base_dir),
            protocol=asdict(proto),
            finetune=finetune,
            check_images=check_images,
            target=campaign_protocol["target"],
        ),
        shard_size=SHARD_SIZE,
        store_dir=store_dir,
        executor=executor,
        workers=workers,
        address=address,
        progress=progress,
        protocol=campaign_protocol,
        max_shards=None if limit is None else math.ceil(limit / SHARD_SIZE),
    )


__all__ = [
    "int8_configs",
    "is_all_int8",
    "measure_item",
    "run_tvm_campaign",
    "tvm_campaign_name",
    "tvm_campaign_protocol",
    "tvm_items",
]
