"""Run a network's inference pass through ONNX Runtime.

On a CPU, ONNX Runtime runs these small convnets faster than PyTorch eager (docs/performance.md): it fuses
padding, convolution and activation instead of running and allocating each one separately. The network is exported in memory when the model loads (about
half a second), for the one input shape the model always feeds it, and checked against PyTorch on that input.
Whatever goes wrong (package missing, export or check fails) leaves the model on PyTorch, with a warning.

Exported graphs are kept in a cache folder (`ONNX_CACHE`, default ~/.cache/visual-attention-studio/onnx; `off`
disables it) under a hash of the weights, the input shapes, the network's source files and the torch version, so
later starts skip the export (its time and its memory peak). A cached graph is checked like a fresh one; one that
no longer matches PyTorch is exported again.

    forward = accelerate(network, torch.rand(1, 3, 288, 384))   # callable like the network
    forward.runtime                                             # "onnxruntime" or "torch"

`ATTENTION_RUNTIME=torch` keeps every model on PyTorch (for comparisons, or where ONNX Runtime misbehaves).
"""
from __future__ import annotations

import hashlib
import inspect
import io
import logging
import os
import threading
import time
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from models.runtime.memory import release_freed_memory

RUNTIME_ENV = "ATTENTION_RUNTIME"
CACHE_ENV = "ONNX_CACHE"
CACHE_KEEP_DAYS = 30                 # graphs unused this long are removed when a new one is written
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


def cache_dir() -> Path | None:
    """Where exported graphs are kept, or None when `ONNX_CACHE=off`."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    return Path(value or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                      "visual-attention-studio", "onnx"))


def graph_key(module: nn.Module, example: tuple[torch.Tensor, ...], n_outputs: int) -> str:
    """A name for the graph that `export_onnx(module, example, n_outputs)` gives: it changes with the weights,
    the input shapes, the source of every class in the network, the exported method, torch and the opset."""
    digest = hashlib.sha256(repr((type(module).__qualname__, getattr(module, "method", None), n_outputs, OPSET,
                                  torch.__version__, [tuple(x.shape) for x in example])).encode())
    for source in sorted({inspect.getfile(type(m)) for m in module.modules()}):
        if not source.startswith(os.path.dirname(torch.__file__)):       # torch's own files: its version covers
            digest.update(Path(source).read_bytes())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:40]


def _store(model_bytes: bytes, target: Path) -> bool:
    """Write atomically (other processes may read the cache at the same time); False when the folder is not
    writable, e.g. a read-only home."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
        partial.write_bytes(model_bytes)
        os.replace(partial, target)
    except OSError as error:
        log.info("ONNX cache not written (%s)", error)
        return False
    _prune(target.parent)
    return True


def _prune(folder: Path) -> None:
    """Old weights' graphs (and partial writes of crashed processes) do not pile up."""
    now = time.time()
    for path in folder.iterdir():
        try:
            age = now - path.stat().st_mtime
            if (path.suffix == ".onnx" and age > CACHE_KEEP_DAYS * 86400) or (path.suffix == ".partial" and age > 3600):
                path.unlink()
        except OSError:                                 # another process removed it first
            pass


def _session(path: Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Worker threads sleep between calls instead of spinning: in a server the other request needs that core.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena: its blocks are kept for the process's life and grow with concurrent calls; plain malloc hands
    # them back after each request (models/runtime/memory.py).
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3                                       # errors only
    # From a file, not from bytes: a session made from bytes keeps them (the weights once more) for its life.
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _session_from_bytes(model_bytes: bytes, cached: Path | None, threads: int):
    if cached is not None and _store(model_bytes, cached):
        return _session(cached, threads)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="onnx-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(model_bytes)
        return _session(path, threads)


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
        shapes, threads = tuple(tuple(x.shape) for x in example), max(1, torch.get_num_threads())

        def checked(session) -> Accelerated:
            fast = Accelerated(module, session, shapes, n_outputs)
            difference = _max_difference(fast(*example), expected)
            if not difference <= tolerance:
                raise ValueError(f"ONNX Runtime output differs from PyTorch by {difference:.2g}")
            return fast

        folder = cache_dir()
        cached = folder / f"{graph_key(module, example, n_outputs)}.onnx" if folder is not None else None
        if cached is not None and cached.is_file():
            try:
                fast = checked(_session(cached, threads))
                os.utime(cached)                   # in use: kept by _prune
                release_freed_memory()             # the graph's parse buffers go back now
                return fast
            except Exception as error:             # truncated, or stale in a way the key missed: export again
                log.info("cached graph %s not used (%s); exporting again", cached.name, error)
        try:
            fast = checked(_session_from_bytes(export_onnx(module, example, n_outputs), cached, threads))
        except Exception:
            if cached is not None:
                cached.unlink(missing_ok=True)     # a graph that failed its check is not kept
            raise
        release_freed_memory()                    # the exporter's scratch memory (tens of MiB) goes back now
        return fast
    except Exception as error:                    # missing package, unsupported op, mismatch: stay on PyTorch
        log.warning("%s stays on PyTorch: %s", type(module).__name__, error)
        return Accelerated(module)

