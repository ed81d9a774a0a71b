"""Run a network's inference pass through ONNX Runtime.

On a CPU, ONNX Runtime runs these small convnets 2–3× faster than PyTorch eager: it fuses padding, convolution
and activation, and reuses one memory arena instead of allocating (and page-faulting) every activation anew
(bench/bench_saliency.py, docs/performance.md). The network is exported in memory when the model loads (about
half a second), for the one input shape the model always feeds it, and checked against PyTorch on that input.
Whatever goes wrong (package missing, export or check fails) leaves the model on PyTorch, with a warning.

    forward = accelerate(network, torch.rand(1, 3, 288, 384))   # callable like the network
    forward.runtime                                             # "onnxruntime" or "torch"

`ATTENTION_RUNTIME=torch` keeps every model on PyTorch (for comparisons, or where ONNX Runtime misbehaves).
"""
from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from pathlib import Path

import torch
import torch.nn as nn

RUNTIME_ENV = "ATTENTION_RUNTIME"
OPSET = 17
log = logging.getLogger(__name__)
# The TorchScript exporter keeps global state (GLOBALS.in_onnx_export): two exports at once, e.g. a server's
# start-up warm-up and a first request, break each other.
_export_lock = threading.Lock()


def onnx_wanted() -> bool:
    return os.environ.get(RUNTIME_ENV, "onnx").strip().lower() not in ("torch", "pytorch", "off", "0")


class Accelerated:
    """`module`'s forward, through an ONNX Runtime session for inputs of the exported shapes; other shapes (and
    everything when `session` is None) run in PyTorch. Returns what the module returns: a tensor or a tuple."""

    def __init__(self, module: nn.Module, session=None, shapes: tuple = (), n_outputs: int = 1):
        self.module = module
        self.session = session
        self.shapes = shapes
        self.n_outputs = n_outputs
        self.runtime = "onnxruntime" if session is not None else "torch"

    def __call__(self, *inputs: torch.Tensor):
        if self.session is None or tuple(tuple(x.shape) for x in inputs) != self.shapes:
            return self.module(*inputs)
        feeds = {f"input{i}": x.detach().float().contiguous().numpy() for i, x in enumerate(inputs)}
        outputs = [torch.from_numpy(y) for y in self.session.run(None, feeds)]
        return outputs[0] if self.n_outputs == 1 else tuple(outputs)


class MethodModule(nn.Module):
    """One method of a network as a module of its own (e.g. SPGEn's `latent_maps`), so it can be exported."""

    def __init__(self, network: nn.Module, method: str):
        super().__init__()
        self.network = network
        self.method = method

    def forward(self, *inputs: torch.Tensor):
        return getattr(self.network, self.method)(*inputs)


def _session(model_bytes: bytes, threads: int):
    import tempfile

    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Worker threads sleep between calls instead of spinning: in a server the other request needs that core.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena: its blocks are kept for the process's life and grow with concurrent calls (server RSS +7 % over
    # bench/load_test.py); plain malloc hands them back after each request (models/memory.py).
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3                                       # errors only
    # From a file, not from the bytes: a session made from bytes keeps them (the weights once more) for its life.
    with tempfile.TemporaryDirectory(prefix="onnx-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(model_bytes)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_onnx(module: nn.Module, example: tuple[torch.Tensor, ...], n_outputs: int) -> bytes:
    """The module's forward on inputs shaped like `example`, as an ONNX model (bytes)."""
    buffer = io.BytesIO()
    with _export_lock, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")          # tracer notes on shape-dependent Python branches: shapes are fixed
        torch.onnx.export(module, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=[f"input{i}" for i in range(len(example))],
                          output_names=[f"output{i}" for i in range(n_outputs)])
    return buffer.getvalue()


def _max_difference(a, b) -> float:
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def accelerate(module: nn.Module, *example: torch.Tensor, tolerance: float = 1e-3) -> Accelerated:
    """`module` (in eval mode) behind ONNX Runtime for inputs shaped like `example`. Checked on `example`: the
    largest difference to PyTorch must stay within `tolerance`, else the model stays on PyTorch."""
    module.eval()
    if not onnx_wanted():
        return Accelerated(module)
    try:
        with torch.no_grad():
            expected = module(*example)
        n_outputs = len(expected) if isinstance(expected, tuple) else 1
        session = _session(export_onnx(module, example, n_outputs), max(1, torch.get_num_threads()))
        fast = Accelerated(module, session, tuple(tuple(x.shape) for x in example), n_outputs)
        difference = _max_difference(fast(*example), expected)
        if not difference <= tolerance:
            raise ValueError(f"ONNX Runtime output differs from PyTorch by {difference:.2g}")
        from models.memory import release_freed_memory
        release_freed_memory()                    # the exporter's scratch memory (tens of MiB) goes back now
        return fast
    except Exception as error:                    # missing package, unsupported op, mismatch: stay on PyTorch
        log.warning("%s stays on PyTorch: %s", type(module).__name__, error)
        return Accelerated(module)


def runtime_of(model) -> str:
    """"onnxruntime" when any of a loaded model's networks runs through ONNX Runtime, else "torch"."""
    values = list(vars(model).values())
    values += [v for d in values if isinstance(d, dict) for v in d.values()]        # e.g. ATSal's runners
    parts = [value.runtime for value in values if isinstance(value, Accelerated)]
    return "onnxruntime" if "onnxruntime" in parts else "torch"
