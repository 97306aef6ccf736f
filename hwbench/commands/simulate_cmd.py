"""``hwbench simulate``: cost a network on a simulated device, with a per-layer table and totals."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit

#: per-layer columns shown in the table, per device family (all columns go to JSON)
TABLE_COLUMNS = {
    "mcu": ["name", "kind", "fused", "macs", "latency_ms", "out_bytes", "scratch_bytes", "live_bytes", "weight_bytes"],
    "gpu": ["name", "kind", "fused", "macs", "latency_ms", "compute_ms", "memory_ms", "wave_util", "bound"],
    "fpga": ["name", "kind", "fused", "macs", "latency_ms", "tile", "pe_util", "dram_bytes", "bound"],
    "asic": ["name", "kind", "fused", "macs", "latency_ms", "pe_util", "dram_bytes", "energy_mj", "bound"],
}


def load_model_graph(spec: str) -> Any:
    """Layer graph of ``pkg.module:factory`` (factory() -> (module, example_input)) or of a ``.pt2`` file."""
    from hwbench.builders import graph_from_exported_program, graph_from_module

    if spec.endswith(".pt2"):
        path = Path(spec)
        if not path.is_file():
            raise CLIUsageError(f"--model {spec!r}: no such file (expected a torch.export .pt2 program)")
        import torch

        try:
            ep = torch.export.load(str(path))
        except Exception as exc:  # a malformed archive: report it as a usage error
            raise CLIUsageError(f"--model {spec!r}: cannot load a torch.export program: {exc}") from exc
        return graph_from_exported_program(ep, name=path.stem)
    if ":" not in spec:
        raise CLIUsageError(f"--model {spec!r}: expected 'pkg.module:factory' or a .pt2 file")
    mod_name, fn_name = spec.split(":", 1)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise CLIUsageError(f"--model {spec!r}: cannot import module {mod_name!r}: {exc}") from exc
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise CLIUsageError(f"--model {spec!r}: module {mod_name!r} has no callable {fn_name!r}")
    out = fn()
    if not (isinstance(out, tuple) and len(out) == 2):
        raise CLIUsageError(f"--model {spec!r}: {fn_name}() must return (module, example_input)")
    module, example = out
    return graph_from_module(module, example, name=fn_name)


class SimulateCommand(Command):
    name = "simulate"
    help = "cost a network (nb201 cell, reference network or your own torch model) on a simulated device"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--device", help="device name (see --list-devices)")
        src = parser.add_mutually_exclusive_group()
        src.add_argument("--arch", help="nb201 architecture string or index (with --config)")
        src.add_argument("--model", help="'pkg.module:factory' returning (module, example_input), or a .pt2 file")
        src.add_argument("--reference", help="a reference network of hwbench.reference_models (e.g. kws)")
        src.add_argument("--list-devices", action="store_true", help="list the registered devices and exit")
        parser.add_argument("--config", default="cifar10", help="nb201 config for --arch (default: cifar10)")
        parser.add_argument("--batch", type=int, default=None, help="batch size (GPU, ASIC)")
        parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None, help="GPU precision")
        parser.add_argument("--totals-only", action="store_true", help="omit the per-layer table")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from simulators.devices import get_device, list_devices

        if args.list_devices:
            rows = [{"device": n, "family": get_device(n).family, "description": get_device(n).description}
                    for n in list_devices()]
            emit(rows, args.format)
            return 0
        if args.device is None:
            raise CLIUsageError(f"--device is required; devices: {', '.join(list_devices())}")
        if args.device not in list_devices():
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("device", args.device, list_devices())
        spec = get_device(args.device)
        if args.arch is not None:
            from hwbench.builders import build_graph

            arch: str | int = int(args.arch) if args.arch.isdigit() else args.arch
            graph = build_graph(arch, args.config)
        elif args.model is not None:
            graph = load_model_graph(args.model)
        elif args.reference is not None:
            from hwbench.reference_models import reference_graph

            graph = reference_graph(args.reference)
        else:
            raise CLIUsageError("give one of --arch ARCH [--config C], --model SPEC or --reference NAME")
        opts: dict[str, Any] = {}
        if args.batch is not None:
            if spec.family not in ("gpu", "asic"):
                raise CLIUsageError(f"--batch applies to gpu and asic devices, not {spec.family} ({spec.name})")
            opts["batch"] = args.batch
        if args.precision is not None:
            if spec.family != "gpu":
                raise CLIUsageError(f"--precision applies to gpu devices, not {spec.family} ({spec.name})")
            opts["precision"] = args.precision
        from simulators.api import simulate

        r = simulate(graph, spec, **opts)
        totals = {"network": graph.name, "device": spec.name, "family": spec.family, "layers": len(r.layers),
                  "macs": graph.macs, **r.metrics()}
        if args.format == "json":
            emit({"totals": totals, "layers": r.layer_records()}, "json")
            return 0
        if not args.totals_only:
            emit(r.layer_records(), "table", columns=TABLE_COLUMNS[spec.family])
            print()
        emit(totals, "table")
        return 0
