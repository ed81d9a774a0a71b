"""360° models: an equirectangular panorama (H, W, 3) uint8 → density streams (H, W) per unit solid angle.

- `equator-bias`: people look mostly near the horizon (the equator bias of Salient360! head+eye data): a
  Gaussian in latitude, uniform in longitude. One stream, "prior".
- `atsal`: ATSal's networks (models/nets/atsal.py) run through ONNX Runtime; the cube projections, the
  experts' per-face densities and the fusion (attention × experts^γ) are done here in numpy.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from models.nets.atsal import ATSal
from models.registry import register_model
from models.runtime.densities import EPS, normalise
from models.runtime.fold_bn import fold_batchnorm
from models.runtime.images import to_chw
from models.runtime.onnx import accelerate
from models.runtime.projections import EQUATOR, FACES, POLES, equirect_face_index, equirect_to_faces, faces_to_equirect
from models.weights import load_pretrained


class EquatorBiasModel:
    """Latitude Gaussian (σ in degrees), uniform in longitude."""
    needs_gaze = False
    notice = ""
    runtime = "numpy"
    streams = ("prior",)

    def __init__(self, sigma_deg: float = 20.0):
        self.sigma_deg = sigma_deg

    def predict(self, equi: np.ndarray) -> np.ndarray:
        h, w = equi.shape[:2]
        latitude = 90.0 - (np.arange(h) + 0.5) * 180.0 / h                 # +90 top … −90 bottom
        row = np.exp(-0.5 * (latitude / self.sigma_deg) ** 2)
        density = np.repeat(row[:, None], w, axis=1)
        return density / density.sum()

    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        return {"prior": self.predict(equi)}

    def reset_temporal(self) -> None:
        """Nothing to reset: the prior has no memory."""


def face_jacobian(face_w: int) -> np.ndarray:
    """(face_w, face_w) solid angle of each face pixel relative to the face centre: (1 + a² + b²)^(-3/2), with
    a, b ∈ [−1, 1] the tangent-plane coordinates on the edge-to-edge grid of models/projections."""
    t = np.linspace(-1.0, 1.0, face_w)
    a, b = np.meshgrid(t, t)
    return (1.0 + a ** 2 + b ** 2) ** -1.5


def faces_to_equirect_density(face_masses: dict[str, np.ndarray], height: int, width: int) -> np.ndarray:
    """Per-face probability maps → one ERP density (height, width) per solid angle, summing to 1.

    face_masses : {face: (n, n) non-negative map over that face's pixels}, any subset of FACES (the rest get
        zero), any square size n (resized to a common size first). Each face is normalised to mass 1, so every
        given face carries the same share of the sphere: the experts only know where to look inside a face.
    Mass per face pixel ÷ its solid angle = density per solid angle; then models/projections.faces_to_equirect.
    This is for inference (numpy, no gradients); the experts are trained per face (`expert_loss`).
    """
    return normalise(_raw_expert_density(face_masses, height, width))


def expert_densities(face_masses: dict[str, np.ndarray], height: int, width: int) -> dict[str, np.ndarray]:
    """All six face maps → {"poles", "equator", "experts"} ERP densities (as `faces_to_equirect_density` of
    U+D, of F+R+B+L and of all six) from a single remap: each ERP pixel reads exactly one face."""
    raw = _raw_expert_density(face_masses, height, width)
    on_poles = np.isin(equirect_face_index(height, width), [FACES.index(k) for k in POLES])
    return {"poles": normalise(np.where(on_poles, raw, 0.0)), "equator": normalise(np.where(on_poles, 0.0, raw)),
            "experts": normalise(raw)}


def _raw_expert_density(face_masses: dict[str, np.ndarray], height: int, width: int) -> np.ndarray:
    n = max(np.shape(m)[0] for m in face_masses.values())
    jac = face_jacobian(n)
    faces = {}
    for k in FACES:
        if k in face_masses:
            m = cv2.resize(np.asarray(face_masses[k], dtype=np.float64), (n, n), interpolation=cv2.INTER_LINEAR)
            m = np.clip(m, 0, None)
            faces[k] = (m / max(m.sum(), EPS) / jac).astype(np.float32)     # float32: cv2.remap's fast path
        else:
            faces[k] = np.zeros((n, n), np.float32)
    return faces_to_equirect(faces, height, width).astype(np.float64)


def fuse(attention: np.ndarray, experts: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """ATSal's fusion as a log-linear pool: attention × experts^γ, renormalised. γ = 1 is the paper's plain
    product; γ < 1 trusts the experts less (the experts only say where inside each face, so a sharp expert
    peak on a face the attention stream half-ignores should not win outright); γ = 0 is attention alone."""
    if gamma < 0:
        raise ValueError(f"fusion_gamma must be ≥ 0; got {gamma}")
    experts = np.clip(experts, 0, None)
    return normalise(attention * (experts ** gamma if gamma != 1 else experts))


def _resize_density(density: np.ndarray, height: int, width: int) -> np.ndarray:
    """A per-solid-angle density resized bilinearly to (height, width), renormalised to sum 1."""
    return normalise(cv2.resize(density.astype(np.float64), (width, height), interpolation=cv2.INTER_LINEAR))


class ATSalPanoramaModel:
    """ATSal as a panorama model: `predict` gives the fused map, `predict_streams` every stream.

    `onnx=False` runs the networks as they are (training's validation), without folding their BatchNorm."""
    needs_gaze = False
    streams = ("fused", "attention", "attention_map", "experts", "poles", "equator")

    def __init__(self, network: ATSal, notice: str = "", onnx: bool = True):
        self.notice = notice
        if onnx:
            net = fold_batchnorm(network.float().eval())                     # same outputs, fewer layers to run
            s = net.poles.face_size
            self._runners = {"attention": accelerate(net.attention, torch.rand(1, 3, *net.attention.input_size)),
                             "poles": accelerate(net.poles, torch.rand(len(POLES), 3, s, s)),
                             "equator": accelerate(net.equator, torch.rand(len(EQUATOR), 3, s, s))}
            self.runtime = "onnxruntime" if "onnxruntime" in {r.runtime for r in self._runners.values()} else "torch"
        else:
            net = network
            self._runners = {"attention": net.attention, "poles": net.poles, "equator": net.equator}
            self.runtime = "torch"
        self.network = net

    @torch.inference_mode()
    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        """ERP frame (H, W, 3) uint8 RGB → {stream: (H, W) float64}.

        "attention", "poles", "equator", "experts" and "fused" are densities per solid angle summing to 1;
        "attention_map" is ATSal's attention map A in [0, 1] (upsampled, not normalised). "poles" and
        "equator" are zero outside their faces; "experts" holds each face from its own expert; "fused" is
        attention × experts renormalised. `temporal=True` smooths the experts over successive calls (video;
        `reset_temporal()` between videos).
        """
        equi = np.asarray(equi)
        if equi.ndim != 3 or equi.shape[2] != 3 or equi.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB equirectangular frame; got {equi.shape} {equi.dtype}")
        H, W = equi.shape[:2]
        net = self.network
        was_training = net.training
        net.eval()
        try:
            h, w = net.attention.input_size
            x = to_chw(cv2.resize(equi, (w, h), interpolation=cv2.INTER_AREA))[None]    # (1, 3, h, w)
            log_density, attn = self._runners["attention"](x)                                         # (1, h/4, w/4), (1, 1, ·, ·)
            attention = _resize_density(log_density[0].exp().numpy(), H, W)
            attention_map = np.clip(cv2.resize(attn[0, 0].numpy().astype(np.float64), (W, H),
                                               interpolation=cv2.INTER_LINEAR), 0.0, 1.0)

            faces = equirect_to_faces(equi, net.poles.face_size)                           # {k: (s, s, 3) uint8}
            log_poles = self._runners["poles"](torch.stack([to_chw(faces[k]) for k in POLES]))      # (2, s/4, s/4)
            log_equator = self._runners["equator"](torch.stack([to_chw(faces[k]) for k in EQUATOR]))  # (4, ·, ·)
            if temporal:
                log_poles, log_equator = net.ema_poles(log_poles), net.ema_equator(log_equator)
            masses = {k: m.exp().numpy() for k, m in zip(POLES, log_poles)}                # renormalised per face below
            masses.update({k: m.exp().numpy() for k, m in zip(EQUATOR, log_equator)})
        finally:
            net.train(was_training)

        streams = expert_densities(masses, H, W)                                           # poles, equator, experts
        return {"attention": attention, "attention_map": attention_map, **streams,
                "fused": fuse(attention, streams["experts"], net.config.fusion_gamma)}

    def predict(self, equi: np.ndarray) -> np.ndarray:
        return self.predict_streams(equi)["fused"]

    def reset_temporal(self) -> None:
        self.network.reset_temporal()


@register_model("panorama")
def equator_bias(**_) -> EquatorBiasModel:
    """Equator bias for equirectangular panoramas (latitude Gaussian, σ 20°)."""
    return EquatorBiasModel()


@register_model("panorama", bundled="atsal", default=True,
                description="ATSal: attention stream × poles/equator experts, trained on synthetic panoramas (see its model card).")
def atsal(weights: str | None = None) -> ATSalPanoramaModel:
    network, notice, _ = load_pretrained(ATSal, "atsal", weights)
    return ATSalPanoramaModel(network, notice)
