"""Published real-hardware measurements the GPU and ASIC models are calibrated and validated on.

Every row is a figure quoted from a public source (the ``source`` field names it: repository / paper,
file / table, column), with the measurement protocol (network, batch, precision, framework). Nothing
here is estimated: a figure that was not found in a source is not in the table. The networks are the
keys of :data:`hwbench.reference_models_gpu.NETWORKS`; per-layer figures name the layer.

Use :func:`published` to select rows; ``hwbench.simulate.validate_gpu`` / ``validate_asic`` compare them
to the models (``python -m hwbench.simulate validate-gpu`` / ``validate-asic``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedFigure:
    """One published measurement."""

    device: str          # hwbench device name (simulators/devices/*.toml)
    network: str         # hwbench.reference_models_gpu.NETWORKS key
    layer: str           # per-layer figure: the layer name; "" = whole network
    metric: str          # latency_ms | processing_latency_ms | dram_mb | power_mw | gmacs
    value: float
    unit: str
    batch: int
    precision: str       # fp16 | fp32 | int16 (16-bit fixed point)
    framework: str
    source: str
    note: str = ""


_TF_TRT = ("NVIDIA-AI-IOT/tf_trt_models README.md (https://github.com/NVIDIA-AI-IOT/tf_trt_models), "
           "'Image Classification / Models' table, column 'TF-TRT TX2' (TensorRT-optimized graph, FP16; "
           "Jetson TX2 in MAX-N mode with jetson_clocks, JetPack 3.2, TensorFlow 1.8, max_batch_size=1)")
_TFTRT_FW = "TF-TRT (TensorFlow 1.8 + TensorRT, JetPack 3.2)"

#: Jetson TX2, TF-slim ImageNet classifiers, batch 1, FP16 TF-TRT, whole-network latency.
TX2_TF_TRT: tuple[PublishedFigure, ...] = tuple(
    PublishedFigure("gpu-jetson-tx2", net, "", "latency_ms", v, "ms", 1, "fp16", _TFTRT_FW, f"{_TF_TRT}, row '{row}'")
    for net, row, v in (
        ("resnet_v1_50", "resnet_v1_50 224x224", 12.5),
        ("resnet_v1_101", "resnet_v1_101 224x224", 20.6),
        ("resnet_v1_152", "resnet_v1_152 224x224", 28.9),
        ("mobilenet_v1_0p25_128", "mobilenet_v1_0p25_128 128x128", 3.72),
        ("mobilenet_v1_0p5_160", "mobilenet_v1_0p5_160 160x160", 4.47),
        ("mobilenet_v1_1p0_224", "mobilenet_v1_1p0_224 224x224", 11.1),
    ))

_TF = ("NVIDIA-AI-IOT/tf_trt_models README.md (https://github.com/NVIDIA-AI-IOT/tf_trt_models), "
       "'Image Classification / Models' table, column 'TF TX2' (original TensorFlow graph, FP32, no TensorRT; "
       "Jetson TX2 in MAX-N mode with jetson_clocks, JetPack 3.2, TensorFlow 1.8)")

#: Jetson TX2, the same networks run by plain TensorFlow (cuDNN, FP32, batch 1): a second protocol.
TX2_TF_FP32: tuple[PublishedFigure, ...] = tuple(
    PublishedFigure("gpu-jetson-tx2", net, "", "latency_ms", v, "ms", 1, "fp32", "TensorFlow 1.8 (cuDNN, no TensorRT)",
                    f"{_TF}, row '{row}'")
    for net, row, v in (
        ("resnet_v1_50", "resnet_v1_50 224x224", 55.1),
        ("resnet_v1_101", "resnet_v1_101 224x224", 91.0),
        ("resnet_v1_152", "resnet_v1_152 224x224", 124.0),
        ("mobilenet_v1_0p25_128", "mobilenet_v1_0p25_128 128x128", 7.99),
        ("mobilenet_v1_0p5_160", "mobilenet_v1_0p5_160 160x160", 8.69),
        ("mobilenet_v1_1p0_224", "mobilenet_v1_1p0_224 224x224", 17.3),
    ))

#: measurement protocol -> its rows (GPU)
GPU_PROTOCOLS: dict[str, tuple[PublishedFigure, ...]] = {"tx2-tftrt-fp16": TX2_TF_TRT, "tx2-tf-fp32": TX2_TF_FP32}

_JSSC = ("Y.-H. Chen, T. Krishna, J. Emer, V. Sze, 'Eyeriss: An Energy-Efficient Reconfigurable Accelerator "
         "for Deep Convolutional Neural Networks', IEEE JSSC 52(1):127-138, 2017")
_FODLAM = "as transcribed in cucapra/fodlam (https://github.com/cucapra/fodlam)"
_EYERISS_FW = "Eyeriss chip, row-stationary mapping (JSSC 2017)"

# (layer, power mW, total latency ms, processing latency ms, DRAM accesses MB, MACs G for the whole batch)
_ALEXNET = (("CONV1", 332, 20.9, 16.5, 5.0, 0.42), ("CONV2", 288, 41.9, 39.2, 4.0, 0.90),
            ("CONV3", 266, 23.6, 21.3, 3.0, 0.60), ("CONV4", 235, 18.4, 16.0, 2.1, 0.45),
            ("CONV5", 236, 10.5, 10.0, 1.3, 0.30))
_VGG16 = (("CONV1-1", 247, 76.2, 38.0, 15.4, 0.26), ("CONV1-2", 218, 910.3, 810.6, 54.0, 5.55),
          ("CONV2-1", 242, 470.3, 405.3, 33.4, 2.77), ("CONV2-2", 231, 894.3, 1110.3, 48.5, 5.55),
          ("CONV3-1", 254, 241.1, 204.0, 20.2, 2.77), ("CONV3-2", 235, 460.9, 408.1, 32.2, 5.55),
          ("CONV3-3", 233, 457.7, 408.1, 30.8, 5.55), ("CONV4-1", 278, 135.3, 105.1, 17.8, 2.77),
          ("CONV4-2", 261, 254.8, 210.0, 20.6, 5.55), ("CONV4-3", 240, 246.3, 210.0, 22.8, 5.55),
          ("CONV5-1", 258, 54.3, 48.3, 6.3, 1.39), ("CONV5-2", 236, 53.7, 48.5, 5.7, 1.39),
          ("CONV5-3", 230, 53.7, 48.5, 5.6, 1.39))

#: Notes on individual transcribed cells (kept in the table, excluded from the comparison).
_EXCLUDE = {("vgg16_conv", "CONV2-2", "processing_latency_ms"):
            "transcribed processing latency 1110.3 ms exceeds the layer's total latency 894.3 ms (and CONV1-2, "
            "same MACs, has 810.6 ms): a transcription error, excluded"}


def _eyeriss(network: str, rows: tuple[tuple[str, float, float, float, float, float], ...], batch: int,
             table: str, csv: str) -> tuple[PublishedFigure, ...]:
    out = []
    for layer, power, total, proc, dram, gmacs in rows:
        src = f"{_JSSC}, {table}, row {layer}; {_FODLAM} {csv}"
        for metric, v, unit in (("latency_ms", total, "ms"), ("processing_latency_ms", proc, "ms"),
                                ("dram_mb", dram, "MB"), ("power_mw", power, "mW"), ("gmacs", gmacs, "GMAC")):
            out.append(PublishedFigure("asic-eyeriss", network, layer, metric, float(v), unit, batch, "int16",
                                       _EYERISS_FW, src, _EXCLUDE.get((network, layer, metric), "")))
    return tuple(out)


#: Eyeriss per-layer measurements: AlexNet CONV1-5 at batch 4 (JSSC 2017 Table V), VGG-16 CONV1-1..5-3 at
#: batch 3 (Table VI). Columns: total latency, processing latency, DRAM accesses, chip power (200 MHz core
#: clock per the device file) and the layer's MACs (a check of the network definitions, not a cost). The abstract gives the batch sizes and the totals (AlexNet 35 frames/s at
#: 278 mW, N = 4; VGG-16 0.7 frames/s at 236 mW, N = 3), consistent with the per-layer sums.
EYERISS: tuple[PublishedFigure, ...] = (
    _eyeriss("alexnet_conv", _ALEXNET, 4, "Table V", "data/eyeriss-alexnet.csv")
    + _eyeriss("vgg16_conv", _VGG16, 3, "Table VI", "data/eyeriss-vgg16.csv"))


def published(device: str | None = None, network: str | None = None) -> list[PublishedFigure]:
    """Published figures, optionally only those of one device and/or network."""
    return [f for f in TX2_TF_TRT + TX2_TF_FP32 + EYERISS
            if (device is None or f.device == device) and (network is None or f.network == network)]
