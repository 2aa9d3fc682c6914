"""The detector's cost in GFLOP, and this machine's measured matrix-multiply peak to hold it against.

GFLOP is counted from the ONNX graph as ONNX Runtime runs it, without the `onnx` package (not installed here):
one profiled inference with graph optimisations off records every node's operator and its input and output
shapes, and the multiply-accumulates of Conv (output elements × weight elements per output channel), MatMul and
Gemm (output elements × the shared dimension) are counted ×2. Element-wise operators, pooling, resizing and
softmax are left out, as ultralytics' own (thop) count leaves them out, so the figures compare.

The peak is numpy's float32 matrix multiply (OpenBLAS sgemm) of two n×n matrices, best of several single calls:
in this process with numpy's default threads (all cores, as ONNX Runtime's default intra-op pool), and in a child
process with OpenBLAS held to one thread.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

MAC_OPS = ("Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul")


def count_gflop(model: str | Path) -> float:
    """GFLOP of one inference of a fixed-shape ONNX model (2 × the MACs of its Conv, MatMul and Gemm nodes)."""
    return 2.0 * sum(node_macs(op, inputs, outputs) for op, inputs, outputs in profiled_nodes(model)) / 1e9


def node_macs(op: str, inputs: list[list[int]], outputs: list[list[int]]) -> int:
    """Multiply-accumulates of one node from its shapes; 0 for operators that multiply no matrices."""
    if op not in MAC_OPS or not outputs or len(inputs) < 2:
        return 0
    out = math.prod(outputs[0])
    if op in ("Conv", "FusedConv"):  # weight [C_out, C_in / groups, kH, kW]: each output sums C_in/g·kH·kW terms
        return out * math.prod(inputs[1][1:])
    return out * inputs[0][-1]  # MatMul [.., M, K] × [.., K, N]; Gemm A [M, K] (transA unset, as exporters write)


def profiled_nodes(model: str | Path) -> list[tuple[str, list[list[int]], list[list[int]]]]:
    """(operator, input shapes, output shapes) of every node run in one inference on zeros."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as exported
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        feeds = {i.name: np.zeros(_fixed_shape(i.shape, i.name), np.float32) for i in session.get_inputs()}
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    return [(e["args"]["op_name"], _shapes(e["args"].get("input_type_shape", [])),
             _shapes(e["args"].get("output_type_shape", [])))
            for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]


def _fixed_shape(shape: list[Any], name: str) -> list[int]:
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"input {name!r} must have a fixed shape to count its cost, got {shape}")
    return [int(d) for d in shape]


def _shapes(entries: list[dict[str, list[int]]]) -> list[list[int]]:
    """ORT writes each tensor as {dtype: shape}."""
    return [next(iter(entry.values())) for entry in entries]


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of `repeats` single float32 n×n matrix multiplies in this process (after one warm-up)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - started)
    return 2.0 * n**3 / best / 1e9


def sgemm_gflops_threads(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """`sgemm_gflops` in a child process whose BLAS may use only `threads` threads (fixed when numpy loads)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    code = f"from benchmarks.model_cost import sgemm_gflops; print(sgemm_gflops({int(n)}, {int(repeats)}))"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    return float(done.stdout.strip().splitlines()[-1])
