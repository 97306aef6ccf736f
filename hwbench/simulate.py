"""Simulated targets on top of ``simulators``: MCU calibration/validation against public measurements
and the whole-space nb201 sweep.

Reproduce the validation table of docs/targets.md with::

    python -m hwbench.simulate validate-mcu [--reference ../shared/reference]

and the GPU / ASIC validations against published measurements (simulators/published.py) with
``python -m hwbench.simulate validate-gpu`` / ``validate-asic`` (re-fit: ``calibrate-gpu`` / ``calibrate-asic``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from simulators.devices import get_device
from simulators.fusion import fuse
from simulators.mcu import DEFAULT_COEFFICIENTS, MCUCoefficients, estimate, kernel_class, kernel_cycles

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

#: MLPerf Tiny v0.5 closed/reference on NUCLEO-L4R5ZI (TF-Lite Micro 2.3.1 with CMSIS-NN, int8).
MLPERF_BOARD = "mcu-nucleo-l4r5zi"
#: TinyEngine README tables, STM32H743; library columns that run TFLM's planner.
TINYENGINE_BOARD = "mcu-stm32h743"
TFLM_LIBS = ("TF-Lite Micro @713b6ed", "CMSIS-NN @011bf32")
CMSIS_LIB = "CMSIS-NN @011bf32"

#: Calibration / held-out split (fixed, documented in docs/targets.md).
CALIBRATION = {
    "latency": {(MLPERF_BOARD, "ic"), (MLPERF_BOARD, "ad"), (TINYENGINE_BOARD, "mbv2-w0.3-r64")},
    "peak_sram": {(TINYENGINE_BOARD, "mbv2-w0.3-r64")},
    "flash": {(TINYENGINE_BOARD, "mbv2-w0.3-r64")},
}


@dataclass(frozen=True)
class Measurement:
    board: str
    model: str
    metric: str          # latency_ms | energy_mj | peak_sram_bytes | flash_bytes
    value: float
    source: str


def load_measurements(reference: str | Path = DEFAULT_REFERENCE) -> list[Measurement]:
    """The public measurements the MCU model is calibrated and validated on."""
    import csv

    ref = Path(reference)
    out: list[Measurement] = []
    with (ref / "mlperf-tiny-results" / "mlperf_tiny_results_wide.csv").open() as fh:
        for r in csv.DictReader(fh):
            if (r["version"], r["division"], r["submitter"], r["system"]) == ("v0.5", "closed", "reference",
                                                                            "Nucleo-L4R5ZI"):
                src = f"MLPerf Tiny v0.5 closed/reference/Nucleo-L4R5ZI/{r['benchmark']}"
                out.append(Measurement(MLPERF_BOARD, r["benchmark"], "latency_ms",
                                       float(r["latency_ms_from_median_throughput"]), src))
                if r["median_energy"]:
                    out.append(Measurement(MLPERF_BOARD, r["benchmark"], "energy_mj",
                                           float(r["median_energy"]) / 1000.0, src))
    unit = {"ms": 1.0, "kB": 1024.0}
    with (ref / "mcunet-tinyengine" / "tinyengine_measured_stm32h743.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["library"] not in TFLM_LIBS or not r["value"] or r["note"]:
                continue
            if r["net_id"] not in ("mbv2-w0.3-r64", "proxyless-w0.3-r64", "proxyless-w0.3-r176"):
                continue  # the MCUNet searched nets' configs are not public in the repo
            metric = {"latency": "latency_ms", "peak_sram": "peak_sram_bytes", "flash": "flash_bytes"}[r["metric"]]
            if metric == "latency_ms" and r["library"] != CMSIS_LIB:
                continue  # the plain TFLM column runs reference (non-CMSIS-NN) kernels
            out.append(Measurement(TINYENGINE_BOARD, r["net_id"], metric, float(r["value"]) * unit[r["unit"]],
                                   f"tinyengine README {r['library']} {r['metric']}"))
    return out


def _split(m: Measurement) -> str:
    key = m.metric.replace("_bytes", "").replace("_ms", "")
    return "calibration" if (m.board, m.model) in CALIBRATION.get(key, set()) else "held-out"


def calibrate_mcu(reference: str | Path = DEFAULT_REFERENCE) -> dict[str, MCUCoefficients]:
    """Fit the per-core scale, the fully connected cost and the memory constants on the calibration split.

    Latency: cycles = s_core * (all non-FC cycles of the prior) + cpm_fc * FC MACs; the Cortex-M4 pair
    (s, cpm_fc) is solved from MLPerf Tiny ``ic`` and ``ad`` on NUCLEO-L4R5ZI, the Cortex-M7 scale from
    TinyEngine's CMSIS-NN ``mbv2-w0.3-r64`` on STM32H743 (cpm_fc scaled like the rest).
    Memory: the runtime SRAM and flash constants from TFLM's ``mbv2-w0.3-r64`` column.
    """
    from hwbench.reference_models import reference_graph

    meas = [m for m in load_measurements(reference) if _split(m) == "calibration"]
    prior = PRIOR
    out: dict[str, MCUCoefficients] = {}

    def parts(model: str) -> tuple[float, float]:
        kg = fuse(reference_graph(model))
        base = fc = 0.0
        nofc = replace(prior, cpm_fc=0.0)
        for k in kg.kernels:
            base += kernel_cycles(k, nofc)
            if kernel_class(k) == "fc":
                fc += k.main.macs
        return base, fc

    lat = {(m.board, m.model): m.value for m in meas if m.metric == "latency_ms"}
    clk4 = float(get_device(MLPERF_BOARD).clock_hz)
    a = np.array([parts("ic"), parts("ad")])
    y = np.array([lat[(MLPERF_BOARD, "ic")], lat[(MLPERF_BOARD, "ad")]]) * 1e-3 * clk4
    s4, f4 = np.linalg.solve(a, y)
    clk7 = float(get_device(TINYENGINE_BOARD).clock_hz)
    b7, fc7 = parts("mbv2-w0.3-r64")
    cyc7 = lat[(TINYENGINE_BOARD, "mbv2-w0.3-r64")] * 1e-3 * clk7
    r = f4 / s4
    s7 = cyc7 / (b7 + r * fc7)

    def scaled(s: float, fc: float) -> MCUCoefficients:
        return replace(prior, cpm_conv=prior.cpm_conv * s, cpm_conv1x1=prior.cpm_conv1x1 * s, cpm_dw=prior.cpm_dw * s,
                       cpm_fc=fc, c_im2col=prior.c_im2col * s, c_out=prior.c_out * s, c_pool=prior.c_pool * s,
                       c_add=prior.c_add * s, c_elem=prior.c_elem * s, c_layer=prior.c_layer * s)

    c4, c7 = scaled(float(s4), float(f4)), scaled(float(s7), float(r * s7))
    # memory constants (same runtime on both cores)
    dev = get_device(TINYENGINE_BOARD)
    e = estimate(reference_graph("mbv2-w0.3-r64"), dev, c7)
    sram = np.mean([m.value for m in meas if m.metric == "peak_sram_bytes"])
    flash = np.mean([m.value for m in meas if m.metric == "flash_bytes"])
    sram_rt = float(sram - (e.peak_sram_bytes - c7.sram_runtime))
    flash_rt = float(flash - (e.flash_bytes - c7.flash_runtime))
    for core, c in (("cortex-m4", c4), ("cortex-m7", c7)):
        out[core] = replace(c, sram_runtime=round(sram_rt), flash_runtime=round(flash_rt))
    return out


#: Relative cycle costs before calibration (structure of CMSIS-NN inner loops, in Cortex-M7 cycles).
PRIOR = MCUCoefficients(cpm_conv=1.0, cpm_conv1x1=0.9, cpm_dw=3.0, cpm_fc=1.5, c_im2col=1.5, c_out=6.0,
                        c_pool=2.0, c_add=12.0, c_elem=3.0, c_layer=4000.0)


def validate_mcu(reference: str | Path = DEFAULT_REFERENCE,
                 coefficients: dict[str, MCUCoefficients] | None = None) -> list[dict[str, Any]]:
    """Predicted vs measured for every measurement, with its split and relative error."""
    from hwbench.reference_models import reference_graph

    coeffs = coefficients or DEFAULT_COEFFICIENTS
    rows = []
    cache: dict[tuple[str, str], Any] = {}
    for m in load_measurements(reference):
        dev = get_device(m.board)
        key = (m.board, m.model)
        if key not in cache:
            cache[key] = estimate(reference_graph(m.model), dev, coeffs[str(dev.core)])
        e = cache[key]
        pred = float(getattr(e, m.metric))
        rows.append({"board": m.board, "model": m.model, "metric": m.metric, "measured": m.value,
                     "predicted": pred, "rel_error": pred / m.value - 1.0, "split": _split(m),
                     "source": m.source})
    return rows


def validate_fpga(reference: str | Path = DEFAULT_REFERENCE) -> list[dict[str, Any]]:
    """Uncalibrated FPGA model (int8) vs MLPerf Tiny v1.1 closed/fpgaconvnet on ZC706 (measured, int8).

    No parameter of the FPGA model is fitted: every row is held-out. fpgaConvNet builds a layer-pipelined
    streaming design per network, not the shared tiled engine modelled here, so this is a cross-check
    of magnitude, not a like-for-like validation.
    """
    import csv

    from hwbench.reference_models import reference_graph
    from simulators.api import simulate

    rows = []
    with (Path(reference) / "mlperf-tiny-results" / "mlperf_tiny_results_wide.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["submitter"] == "fpgaconvnet" and r["system"] == "zc706" and r["benchmark"] in ("ic", "vww", "kws"):
                pred = simulate(reference_graph(r["benchmark"]), "fpga-zc706", bits=8).latency_ms
                meas = float(r["latency_ms_from_median_throughput"])
                rows.append({"board": "fpga-zc706", "model": r["benchmark"], "metric": "latency_ms", "measured": meas,
                             "predicted": pred, "rel_error": pred / meas - 1.0, "split": "held-out",
                             "source": f"MLPerf Tiny {r['version']} closed/fpgaconvnet/zc706/{r['benchmark']}"})
    return rows


# -- GPU and ASIC: published measurements (simulators/published.py) ---------------------------------
#: GPU calibration split: Jetson TX2, batch 1 (NVIDIA-AI-IOT/tf_trt_models), per protocol. The fit uses
#: these networks only; the other rows are held out.
GPU_CALIBRATION = frozenset({"mobilenet_v1_0p25_128", "resnet_v1_50", "mobilenet_v1_1p0_224"})
#: ASIC calibration split: the Eyeriss AlexNet layers (JSSC 2017 Table V); VGG-16 (Table VI) is held out.
ASIC_CALIBRATION = frozenset({"alexnet_conv"})


@dataclass(frozen=True)
class GPUProtocolFit:
    """What :func:`calibrate_gpu` fits on the calibration split of one measurement protocol.

    For the TF-TRT FP16 protocol ``gemm_efficiency`` is the device-model constant shipped as the default of
    :func:`simulators.gpu.simulate_gpu`; ``host_overhead_s`` (TensorFlow session, input/output copies) and
    ``dw_efficiency`` (TensorRT 3 runs depthwise convolutions as grouped convolutions on Pascal) describe the
    protocol and are passed only when comparing with these measurements. For plain TensorFlow FP32 (cuDNN,
    unfused batch norm / activations) all three are protocol terms.
    """

    host_overhead_s: float
    gemm_efficiency: float
    dw_efficiency: float


#: :func:`calibrate_gpu` results (tests re-run the fits).
TX2_TFTRT_FIT = GPUProtocolFit(host_overhead_s=2.51e-3, gemm_efficiency=0.84, dw_efficiency=0.0039)
TX2_TF_FP32_FIT = GPUProtocolFit(host_overhead_s=6.72e-3, gemm_efficiency=0.288, dw_efficiency=0.0234)
#: protocol name -> shipped fit (rows: :data:`simulators.published.GPU_PROTOCOLS`)
GPU_FITS = {"tx2-tftrt-fp16": TX2_TFTRT_FIT, "tx2-tf-fp32": TX2_TF_FP32_FIT}


def _log_fit(fun: Any, x0: list[float], iters: int = 60) -> np.ndarray:
    """Damped Gauss-Newton on log-parameters minimizing sum(fun(x)**2) (fun returns log residuals)."""
    z = np.log(np.asarray(x0, dtype=float))
    r = np.asarray(fun(np.exp(z)))
    for _ in range(iters):
        jac = np.empty((len(r), len(z)))
        for j in range(len(z)):
            dz = np.zeros_like(z)
            dz[j] = 1e-5
            jac[:, j] = (np.asarray(fun(np.exp(z + dz))) - r) / 1e-5
        step = np.linalg.lstsq(jac, -r, rcond=None)[0]
        lam = 1.0
        while lam > 1e-4:
            zn = z + lam * step
            rn = np.asarray(fun(np.exp(zn)))
            if float(rn @ rn) < float(r @ r):
                z, r = zn, rn
                break
            lam /= 2
        else:
            break
        if float(np.max(np.abs(lam * step))) < 1e-9:
            break
    out: np.ndarray = np.exp(z)
    return out


def _gpu_protocol(protocol: str) -> tuple[Any, ...]:
    from simulators.published import GPU_PROTOCOLS

    if protocol not in GPU_PROTOCOLS:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("GPU measurement protocol", protocol, GPU_PROTOCOLS)
    return GPU_PROTOCOLS[protocol]


def _gpu_graphs(rows: tuple[Any, ...], via: str) -> dict[tuple[str, int], Any]:
    from hwbench.reference_models_gpu import network_graph

    return {(f.network, f.batch): network_graph(f.network, batch=f.batch, via=via) for f in rows}


def _gpu_latency(graph: Any, f: Any, fit: GPUProtocolFit) -> float:
    from simulators.api import simulate

    return float(simulate(graph, f.device, batch=f.batch, precision=f.precision, host_overhead_s=fit.host_overhead_s,
                          gemm_efficiency=fit.gemm_efficiency, dw_efficiency=fit.dw_efficiency).latency_ms)


def calibrate_gpu(protocol: str = "tx2-tftrt-fp16", via: str = "ir") -> GPUProtocolFit:
    """Fit host overhead, GEMM efficiency and depthwise efficiency on the calibration rows of ``protocol``
    (log least squares; three rows, three parameters)."""
    rows = [f for f in _gpu_protocol(protocol) if f.network in GPU_CALIBRATION]
    graphs = _gpu_graphs(tuple(rows), via)

    def resid(x: np.ndarray) -> list[float]:
        fit = GPUProtocolFit(float(x[0]), min(float(x[1]), 1.0), min(float(x[2]), 1.0))
        return [float(np.log(_gpu_latency(graphs[(f.network, f.batch)], f, fit) / f.value)) for f in rows]

    h, ge, de = _log_fit(resid, [3e-3, 0.7, 0.15])
    return GPUProtocolFit(float(h), float(min(ge, 1.0)), float(min(de, 1.0)))


def validate_gpu(fits: dict[str, GPUProtocolFit] | None = None, via: str = "torch") -> list[dict[str, Any]]:
    """GPU model (with each protocol's fitted terms) vs the published Jetson TX2 latencies; ``split`` is
    ``calibration`` for the rows the fit used, ``protocol`` names the measurement protocol."""
    from simulators.published import GPU_PROTOCOLS

    fits = {**GPU_FITS, **(fits or {})}
    rows = []
    for protocol, figures in GPU_PROTOCOLS.items():
        fit = fits[protocol]
        graphs = _gpu_graphs(figures, via)
        for f in figures:
            pred = _gpu_latency(graphs[(f.network, f.batch)], f, fit)
            rows.append({"board": f.device, "protocol": protocol, "model": f.network, "layer": f.layer,
                         "metric": f.metric, "measured": f.value, "predicted": pred, "rel_error": pred / f.value - 1.0,
                         "split": "calibration" if f.network in GPU_CALIBRATION else "held-out",
                         "batch": f.batch, "precision": f.precision, "framework": f.framework, "source": f.source})
    return rows


def _asic_layers(network: str, batch: int, device: Any, via: str) -> dict[str, dict[str, float]]:
    """Per conv layer of an Eyeriss reference network: simulated latency, processing time, DRAM, chip energy."""
    from hwbench.reference_models_gpu import ALEXNET_CONVS, VGG16_CONVS, network_graph
    from simulators.api import simulate

    names = [c[0] for c in (ALEXNET_CONVS if network == "alexnet_conv" else VGG16_CONVS)]
    r = simulate(network_graph(network, batch=batch, via=via), device, batch=batch)
    convs = [x for x in r.layer_records() if x["kind"] == "conv2d"]
    if len(convs) != len(names):
        raise AssertionError(f"{network}: {len(convs)} conv kernels, expected {len(names)}")
    wb = int(device.word_bits) // 8
    e_dram = float(device.energy_mac_j) * float(device.energy_dram_rel)
    out = {}
    for name, x in zip(names, convs):
        out[name] = {"latency_ms": x["latency_ms"],
                     "processing_latency_ms": x["compute_cycles"] / float(device.clock_hz) * 1e3,
                     "dram_mb": x["dram_bytes"] / 1e6, "gmacs": x["macs"] / 1e9,
                     # the chip's power excludes the DRAM devices: drop the DRAM access energy
                     "energy_mj": x["energy_mj"] - x["dram_bytes"] / wb * e_dram * 1e3}
    return out


def calibrate_asic(via: str = "ir") -> dict[str, float]:
    """Fit the Eyeriss ``array_efficiency`` (measured AlexNet processing latency = MAC-bound cycles /
    efficiency: geometric mean of the ratios) and the effective ``dram_bw_bytes_per_s`` (AlexNet total
    latency given that efficiency: log least squares) on the calibration split."""
    from simulators.published import EYERISS

    dev = get_device("asic-eyeriss").replace(array_efficiency=1.0)
    cal = [f for f in EYERISS if f.network in ASIC_CALIBRATION and not f.note]
    sims: dict[tuple[str, int], dict[str, dict[str, float]]] = {}

    def sim(d: Any, f: Any) -> dict[str, float]:
        key = (f.network, f.batch)
        if key not in sims:
            sims[key] = _asic_layers(f.network, f.batch, d, via)
        return sims[key][f.layer]

    proc = [(sim(dev, f)["processing_latency_ms"], f.value) for f in cal if f.metric == "processing_latency_ms"]
    eff = float(np.exp(np.mean([np.log(p / m) for p, m in proc])))
    dev = dev.replace(array_efficiency=eff)
    sims.clear()
    tot = [f for f in cal if f.metric == "latency_ms"]

    def resid(x: np.ndarray) -> list[float]:
        d = dev.replace(dram_bw_bytes_per_s=float(x[0]))
        sims.clear()
        return [float(np.log(sim(d, f)["latency_ms"] / f.value)) for f in tot]

    (bw,) = _log_fit(resid, [float(get_device("asic-eyeriss").dram_bw_bytes_per_s)])
    return {"array_efficiency": eff, "dram_bw_bytes_per_s": float(bw)}


def validate_asic(via: str = "torch", device: Any = None) -> list[dict[str, Any]]:
    """Shipped Eyeriss model vs the JSSC 2017 per-layer measurements (total and processing latency, DRAM
    accesses, chip energy = power x total latency); AlexNet rows are the calibration split, VGG-16 rows
    held out, the layers' MAC counts are split ``check`` (network definitions) and an inconsistent
    transcribed cell is ``excluded``."""
    from simulators.published import EYERISS

    dev = get_device(device or "asic-eyeriss")
    sims: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    rows = []
    for f in EYERISS:
        key = (f.network, f.batch)
        if key not in sims:
            sims[key] = _asic_layers(f.network, f.batch, dev, via)
        pred = sims[key][f.layer]
        metric, measured = f.metric, f.value
        if metric == "power_mw":  # compare energy: power x total latency of the same layer
            total = next(g.value for g in EYERISS if (g.network, g.layer, g.metric) == (f.network, f.layer,
                                                                                        "latency_ms"))
            metric, measured = "energy_mj", f.value * total * 1e-3
        split = "calibration" if f.network in ASIC_CALIBRATION else "held-out"
        if metric == "gmacs":  # network definition check, not a cost
            split = "check"
        if f.note:
            split = "excluded"
        rows.append({"board": f.device, "model": f.network, "layer": f.layer, "metric": metric,
                     "measured": measured, "predicted": pred[metric], "rel_error": pred[metric] / measured - 1.0,
                     "split": split, "batch": f.batch, "precision": f.precision, "framework": f.framework,
                     "source": f.source, "note": f.note})
    return rows


def validation_summary(rows: list[dict[str, Any]], split: str = "held-out") -> dict[str, dict[str, float]]:
    """Per metric, per (model, metric) and per (protocol, metric) if rows name a protocol, over ``split``
    rows: n, MAPE, max |error|, mean signed error and
    the Spearman rank correlation of predicted vs measured (NaN below 4 rows)."""
    import pandas as pd

    df = pd.DataFrame([r for r in rows if r["split"] == split])
    out: dict[str, dict[str, float]] = {}
    if df.empty:
        return out
    groups = [*((m, d) for m, d in df.groupby("metric")),
              *((f"{mo}/{me}", d) for (mo, me), d in df.groupby(["model", "metric"]))]
    if "protocol" in df:
        groups += [(f"{p}/{me}", d) for (p, me), d in df.groupby(["protocol", "metric"])]
    for key, g in groups:
        e = g["rel_error"].to_numpy()
        rho = float(g["predicted"].corr(g["measured"], method="spearman")) if len(g) >= 4 else float("nan")
        out[str(key)] = {"n": len(g), "mape": float(np.mean(np.abs(e))), "max_abs_rel_error":
                         float(np.max(np.abs(e))), "mean_rel_error": float(np.mean(e)), "spearman": rho}
    return out


def _print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'device':16} {'protocol':15} {'model':22} {'layer':8} {'metric':22} {'measured':>10} {'predicted':>10} "
          f"{'error':>8}  split")
    for r in rows:
        print(f"{r['board']:16} {r.get('protocol', '-'):15} {r['model']:22} {r['layer'] or '-':8} {r['metric']:22} "
              f"{r['measured']:10.4g} "
              f"{r['predicted']:10.4g} {100 * r['rel_error']:+7.1f}%  {r['split']}")


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean / max absolute relative error of the held-out rows, per metric."""
    out: dict[str, dict[str, float]] = {}
    for metric in sorted({r["metric"] for r in rows}):
        errs = [abs(r["rel_error"]) for r in rows if r["metric"] == metric and r["split"] == "held-out"]
        if errs:
            out[metric] = {"n": len(errs), "mean_abs_rel_error": float(np.mean(errs)),
                           "max_abs_rel_error": float(np.max(errs))}
    return out


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hwbench.simulate")
    p.add_argument("what", choices=("validate-mcu", "calibrate-mcu", "validate-fpga", "validate-gpu", "calibrate-gpu",
                                    "validate-asic", "calibrate-asic"))
    p.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    a = p.parse_args(argv)
    if a.what == "calibrate-gpu":
        print(json.dumps({k: asdict(calibrate_gpu(k)) for k in GPU_FITS}, indent=2))
        return 0
    if a.what == "calibrate-asic":
        print(json.dumps(calibrate_asic(), indent=2))
        return 0
    if a.what in ("validate-gpu", "validate-asic"):
        rows = validate_gpu() if a.what == "validate-gpu" else validate_asic()
        _print_rows(rows)
        print(json.dumps({"held-out": validation_summary(rows), "calibration": validation_summary(rows, "calibration")},
                         indent=2))
        return 0
    if a.what == "calibrate-mcu":
        print(json.dumps({k: asdict(v) for k, v in calibrate_mcu(a.reference).items()}, indent=2))
        return 0
    if a.what == "validate-fpga":
        for r in validate_fpga(a.reference):
            print(f"{r['board']:12} {r['model']:5} measured {r['measured']:.4g} ms  predicted {r['predicted']:.4g} ms  "
                  f"{100 * r['rel_error']:+.1f}%  ({r['source']})")
        return 0
    rows = validate_mcu(a.reference)
    print(f"{'board':18} {'model':20} {'library':24} {'metric':16} {'measured':>12} {'predicted':>12} {'error':>8}  split")
    for r in rows:
        lib = "TFLM 2.3.1+CMSIS-NN" if "MLPerf" in r["source"] else r["source"].split(" README ")[1].rsplit(" ", 1)[0]
        print(f"{r['board']:18} {r['model']:20} {lib:24} {r['metric']:16} {r['measured']:12.4g} {r['predicted']:12.4g} "
              f"{100 * r['rel_error']:+7.1f}%  {r['split']}")
    print(json.dumps(summarize(rows), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())


# -- whole-space nb201 sweep ----------------------------------------------------------------------
def _cell_graph(arch: tuple[int, ...], c: int, h: int, w: int) -> Any:
    """One NB201 cell alone (input (1,c,h,w) -> cell output), with the ops and order of the NB201 network
    (``hwbench.models.nb201.InferCell``): per node, per input edge in string order, the edge op
    (``none`` = zero, ``skip`` = the source itself, conv = relu -> conv -> batchnorm, pool = avgpool 3x3)
    then a chained binary add. The test suite holds sweeps built on it equal to full-network simulation."""
    from hwbench.spaces.nb201 import OPS
    from simulators.ir import LayerGraph, Op, TensorSpec

    shape = (1, c, h, w)
    g = LayerGraph(name="cell", inputs=("x",), outputs=())
    g.tensors["x"] = TensorSpec("x", shape)

    def op(name: str, kind: str, ins: tuple[str, ...], **kw: Any) -> str:
        g.ops.append(Op(name, kind, ins, name, (shape,) * len(ins), shape, **kw))
        g.tensors[name] = TensorSpec(name, shape)
        return name

    nodes = ["x"]
    k = 0
    for i in range(1, 4):
        feat: str | None = None
        for j in range(i):
            name = OPS[arch[k]]
            src = nodes[j]
            if name == "none":
                y = op(f"e{k}.zero", "zero", (src,))
            elif name == "skip_connect":
                y = src
            elif name == "avg_pool_3x3":
                y = op(f"e{k}.pool", "avgpool2d", (src,), kernel=(3, 3), stride=(1, 1), padding=(1, 1))
            else:
                kk = 1 if name == "nor_conv_1x1" else 3
                r = op(f"e{k}.relu", "relu", (src,))
                cv = op(f"e{k}.conv", "conv2d", (r,), kernel=(kk, kk), stride=(1, 1), padding=(kk // 2, kk // 2),
                        weight_count=c * c * kk * kk)
                y = op(f"e{k}.bn", "batchnorm", (cv,), weight_count=c, bias_count=c)
            feat = y if feat is None else op(f"n{i}.add{j}", "add", (feat, y))
            k += 1
        assert feat is not None
        nodes.append(feat)
    g.outputs = (nodes[3],)
    return g


def _pruned(a: tuple[int, ...]) -> tuple[int, ...] | None:
    """The cell with dead / zero-fed edges set to ``none`` (what the compiler keeps); None if disconnected."""
    from hwbench.spaces.nb201 import EDGES

    nz = {0: True}
    for i in (1, 2, 3):
        nz[i] = any(a[k] != 0 and nz[s] for k, (d, s) in enumerate(EDGES) if d == i)
    if not nz[3]:
        return None
    useful = {3: True}
    for j in (2, 1, 0):
        useful[j] = any(a[k] != 0 and useful[d] for k, (d, s) in enumerate(EDGES) if s == j)
    return tuple(int(a[k]) if (a[k] != 0 and nz[s] and useful[d]) else 0 for k, (d, s) in enumerate(EDGES))


def _parts(r: Any) -> tuple[dict[str, float], dict[str, float]]:
    """(additive, max-combined) quantities of one simulation result, per device family."""
    m = r.metrics()
    if r.family == "mcu":
        add = {"latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "flash_bytes": r.storage_bytes,
               "persistent": r.details["persistent_sram_bytes"], "cycles": m["cycles"]}
        return add, {"arena": m["arena_bytes"]}
    if r.family == "gpu":
        add = {"latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "weight_bytes": r.storage_bytes,
               "kernels": m["kernels"]}
        return add, {"arena": r.peak_memory_bytes - r.storage_bytes}
    if r.family == "fpga":
        add = {"latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "weight_bytes": r.storage_bytes,
               "dram_traffic_bytes": m["dram_traffic_bytes"]}
        return add, {"act": (r.peak_memory_bytes - r.storage_bytes) / 2, "bram36_used": m["bram36_used"]}
    add = {"latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "weight_bytes": r.storage_bytes,
           "dram_traffic_bytes": m["dram_traffic_bytes"], "macs": float(r.layers["macs"].sum()),
           "cycles": float(r.layers["compute_cycles"].sum())}
    return add, {"act": (r.peak_memory_bytes - r.storage_bytes) / 2}


def _combine(family: str, spec: Any, add: dict[str, np.ndarray], mx: dict[str, np.ndarray],
             const: dict[str, float]) -> dict[str, np.ndarray]:
    if family == "mcu":
        peak = mx["arena"] + add["persistent"] + const["sram_runtime"]
        flash = add["flash_bytes"]
        return {"latency_ms": add["latency_ms"], "energy_mj": add["energy_mj"], "peak_sram_bytes": peak,
                "flash_bytes": flash, "arena_bytes": mx["arena"], "cycles": add["cycles"],
                "fits": ((peak <= float(spec.sram_bytes)) & (flash <= float(spec.flash_bytes))).astype(float)}
    if family == "gpu":
        return {"latency_ms": add["latency_ms"], "energy_mj": add["energy_mj"],
                "peak_dram_bytes": mx["arena"] + add["weight_bytes"], "weight_bytes": add["weight_bytes"],
                "kernels": add["kernels"]}
    if family == "fpga":
        bram = mx["bram36_used"]
        return {"latency_ms": add["latency_ms"], "energy_mj": add["energy_mj"],
                "peak_dram_bytes": add["weight_bytes"] + 2 * mx["act"], "weight_bytes": add["weight_bytes"],
                "dsp_used": np.full_like(bram, const["dsp_used"]), "dsp_util": np.full_like(bram, const["dsp_util"]),
                "bram36_used": bram, "bram_util": bram / float(spec.bram36),
                "dram_traffic_bytes": add["dram_traffic_bytes"]}
    pes = float(spec.pe_rows) * float(spec.pe_cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(add["cycles"] > 0, add["macs"] / (add["cycles"] * pes), 0.0)
    return {"latency_ms": add["latency_ms"], "energy_mj": add["energy_mj"],
            "peak_dram_bytes": add["weight_bytes"] + 2 * mx["act"], "weight_bytes": add["weight_bytes"],
            "pe_util": util, "dram_traffic_bytes": add["dram_traffic_bytes"]}


@dataclass(frozen=True)
class _CellStructure:
    """Shape-independent structure of one pruned cell after fusion."""

    templates: tuple[tuple[Any, ...], ...]          # per kernel, in execution order
    live: tuple[int, ...]                           # activation tensors live at each kernel step


def _template(k: Any) -> tuple[Any, ...]:
    return (k.main.kind, k.main.kernel, k.fused, len(k.inputs))


@cache
def _cell_structure(p: tuple[int, ...]) -> _CellStructure:
    kg = fuse(_cell_graph(p, 2, 4, 4))
    life = kg.lifetimes()
    n = len(kg.kernels)
    live = [0] * n
    for a, b in life.values():
        for t in range(a, b + 1):
            if t < n:
                live[t] += 1
    return _CellStructure(tuple(_template(k) for k in kg.kernels), tuple(live))


def _template_graph(t: tuple[Any, ...], c: int, h: int, w: int) -> Any:
    """A graph holding exactly one kernel of template ``t`` at shape (1, c, h, w) (and its empty twin)."""
    from simulators.ir import LayerGraph, Op, TensorSpec

    kind, kernel, fused, n_in = t
    shape = (1, c, h, w)
    g = LayerGraph(name="tpl", inputs=(), outputs=())
    ins = tuple(f"x{i}" for i in range(n_in))
    for x in ins:
        g.tensors[x] = TensorSpec(x, shape)
    g.inputs = ins
    empty = LayerGraph(name="tpl0", inputs=ins, outputs=ins[:1], tensors=dict(g.tensors))
    cur: tuple[str, ...] = ins
    for i, kd in enumerate((kind, *fused)):
        kw: dict[str, Any] = {}
        if kd == "conv2d":
            assert kernel is not None
            kw = dict(kernel=kernel, stride=(1, 1), padding=(kernel[0] // 2, kernel[1] // 2),
                      weight_count=c * c * kernel[0] * kernel[1])
        elif kd == "avgpool2d":
            kw = dict(kernel=kernel, stride=(1, 1), padding=(1, 1))
        elif kd == "batchnorm":
            kw = dict(weight_count=c, bias_count=c)
        name = f"o{i}"
        g.add_op(Op(name, kd, cur, name, (shape,) * len(cur), shape, **kw))
        cur = (name,)
    g.outputs = cur
    return g, empty


def sweep_nb201(config: str, device: str, **opts: Any) -> dict[str, np.ndarray]:
    """Simulated metrics of all 15,625 nb201 cells (hwbench index order) for ``config`` on ``device``.

    Exploits the shared structure of the space:

    * a network is the fixed skeleton (stem, reductions, head) plus ``N`` identical cells per stage, and
      no kernel fuses across a cell boundary (a cell input has >= 2 readers), so an additive metric
      (latency, energy, storage, traffic, persistent memory) is
      ``full(ref) + N * sum_stage(cell(a) - cell(ref))``;
    * a cell's cost is that of its *pruned* form (dead and zero-fed edges removed), a sum over its
      kernels, and a cell holds only a handful of distinct kernel templates (relu; conv1x1/3x3 + bn
      (+ relu); avgpool; add (+ relu)), each costed once per stage by the device model itself;
    * activation memory: every tensor inside a stage's cell has the same size, so the cell's arena is
      ``max_t(live tensors at t x size + scratch at t)`` and the network's is the max of the skeleton's
      and the cells'. The test suite holds the sweep equal to full simulation on sampled cells.

    Cells with no input-output path (``is_connected`` False, 341 cells) make the network a constant
    function; they get the cost of the all-``none`` network, which :func:`simulators.fusion.fuse` deploys
    as the head on a constant feature map (global pooling + classifier: never 0 ms, see
    docs/targets.md), exactly as the per-network path costs any of them. Returns metric name -> float64
    array of length 15,625.
    """
    from hwbench.builders import build_graph
    from hwbench.spaces.nb201 import SIZE, get_config
    from simulators.api import simulate

    cfg = get_config(config)
    spec = get_device(device)
    pruned = _pruned_all()
    distinct = sorted({p for p in pruned if p is not None})
    pos = {p: i for i, p in enumerate(distinct)}
    structs = [_cell_structure(p) for p in distinct]
    ref = (3, 3, 3, 3, 3, 3)
    empty_arch = (0, 0, 0, 1, 0, 0)  # node 3 = the input: a cell without kernels
    g_ref = build_graph(ref, cfg)
    shapes = []  # cell input shape per stage: C, 2C, 4C channels; 3x3/s2/p1 reductions in between
    h = cfg.resolution
    for s_idx in range(3):
        shapes.append((1, cfg.C * 2 ** s_idx, h, h))
        h = (h + 2 - 3) // 2 + 1
    r_ref = simulate(g_ref, spec, **opts)
    full_ref_add, _ = _parts(r_ref)
    _, fixed_max = _parts(simulate(build_graph(empty_arch, cfg), spec, **opts))
    # disconnected cells: the all-none network (fusion keeps its head on a constant feature map)
    const_add, const_max = _parts(simulate(build_graph(0, cfg), spec, **opts))
    keys_add = list(full_ref_add)

    templates = sorted({t for st in structs for t in st.templates}, key=repr)
    tix = {t: i for i, t in enumerate(templates)}
    counts = np.zeros((len(distinct), len(templates)))
    for i, st in enumerate(structs):
        for t in st.templates:
            counts[i, tix[t]] += 1
    fam = spec.family
    align, eb = (16, 1) if fam == "mcu" else (512, {"fp32": 4, "fp16": 2, "int8": 1}[opts.get("precision", "fp32")])
    ref_i = pos[ref]
    cell_add = {k: np.zeros(len(distinct)) for k in keys_add}
    cell_max: dict[str, np.ndarray] = {k: np.zeros(len(distinct)) for k in fixed_max}
    for (_, c, h, w) in shapes:
        cost = np.zeros((len(templates), len(keys_add)))
        tmax = np.zeros(len(templates))  # per template: fpga bram / mcu scratch
        for t in templates:
            g1, g0 = _template_graph(t, c, h, w)
            r1, r0 = simulate(g1, spec, **opts), simulate(g0, spec, **opts)
            a1, m1 = _parts(r1)
            a0, _ = _parts(r0)
            cost[tix[t]] = [a1[k] - a0[k] for k in keys_add]
            if fam == "mcu":
                from simulators.mcu import scratch_bytes

                tmax[tix[t]] = sum(scratch_bytes(k) for k in fuse(g1).kernels)
            elif fam == "fpga":
                tmax[tix[t]] = m1["bram36_used"]
        add = counts @ cost
        for j, k in enumerate(keys_add):
            cell_add[k] += add[:, j]
        bsz = int(opts.get("batch", 1)) if fam in ("gpu", "asic") else 1
        size = -(-(c * h * w * eb * bsz) // align) * align
        if fam in ("mcu", "gpu"):
            peak = np.zeros(len(distinct))
            for i, st in enumerate(structs):
                best = 0.0
                for t_step, tpl in enumerate(st.templates):
                    scr = tmax[tix[tpl]] if fam == "mcu" else 0.0
                    v = st.live[t_step] * size + (-(-scr // align) * align)
                    best = v if v > best else best  # noqa: FURB136 (hot loop: no call)
                peak[i] = best
            cell_max["arena"] = np.maximum(cell_max["arena"], peak)
        elif fam == "fpga":
            bram = np.where(counts > 0, tmax[None, :], 0.0).max(axis=1)
            cell_max["bram36_used"] = np.maximum(cell_max["bram36_used"], bram)
            cell_max["act"] = np.maximum(cell_max["act"], c * h * w * float(max(int(opts.get("bits", 16)) // 8, 1)))
        else:
            cell_max["act"] = np.maximum(cell_max["act"], c * h * w * float(spec.word_bits) / 8 * bsz)
    idx = np.array([pos[p] if p is not None else -1 for p in pruned])
    conn = idx >= 0
    add_out: dict[str, np.ndarray] = {}
    max_out: dict[str, np.ndarray] = {}
    for k in keys_add:
        v = np.full(SIZE, const_add[k])
        v[conn] = full_ref_add[k] + cfg.N * (cell_add[k][idx[conn]] - cell_add[k][ref_i])
        add_out[k] = v
    for k in fixed_max:
        v = np.full(SIZE, const_max[k])
        v[conn] = np.maximum(fixed_max[k], cell_max[k][idx[conn]])
        max_out[k] = v
    const: dict[str, float] = {}
    if fam == "mcu":
        from simulators.mcu import DEFAULT_COEFFICIENTS

        const["sram_runtime"] = float(opts.get("coefficients", DEFAULT_COEFFICIENTS[str(spec.core)]).sram_runtime)
    if fam == "fpga":
        m = r_ref.metrics()
        const.update(dsp_used=m["dsp_used"], dsp_util=m["dsp_util"])
    return _combine(fam, spec, add_out, max_out, const)


@lru_cache(maxsize=1)
def _pruned_all() -> tuple[tuple[int, ...] | None, ...]:
    from hwbench.spaces.nb201 import SPACE

    return tuple(_pruned(tuple(int(v) for v in row)) for row in SPACE.op_matrix)


#: unit of each simulated metric column
METRIC_UNITS = {
    "latency_ms": "ms", "energy_mj": "mJ", "peak_sram_bytes": "bytes", "flash_bytes": "bytes",
    "arena_bytes": "bytes",
    "cycles": "cycles", "fits": "bool (1 = fits SRAM and flash)", "peak_dram_bytes": "bytes", "weight_bytes": "bytes",
    "kernels": "count", "dsp_used": "DSP slices", "dsp_util": "fraction", "bram36_used": "BRAM36 blocks",
    "bram_util": "fraction", "dram_traffic_bytes": "bytes", "pe_util": "fraction",
}


def sweep_columns(device: str, configs: tuple[str, ...] | None = None,
                  **opts: Any) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Table-ready columns ``<config>/<device>/<metric>`` -> (values, attributes) for the nb201 table.

    Attributes: unit, source (``simulated``), tool and version, the device spec (JSON, figures with their
    sources), the protocol (model options, batch) and the date.
    """
    import datetime

    from hwbench._version import __version__
    from hwbench.spaces.nb201 import CONFIGS

    spec = get_device(device)
    out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    today = datetime.date.today().isoformat()
    for cfg in configs or tuple(CONFIGS):
        for metric, values in sweep_nb201(cfg, device, **opts).items():
            attrs = {"unit": METRIC_UNITS.get(metric, ""), "source": "simulated",
                     "tool": f"hwbench.simulators {__version__} ({spec.family} model)",
                     "device": json.dumps(spec.to_dict()), "protocol": json.dumps({"batch": 1, **opts}),
                     "date": today}
            out[f"{cfg}/{device}/{metric}"] = (values, attrs)
    return out
