"""360° models: an equirectangular panorama (H, W, 3) uint8 → density streams (H, W) per unit solid angle.

- `equator-bias`: people look mostly near the horizon (the equator bias of Salient360! head+eye data): a
  Gaussian in latitude, uniform in longitude. One stream, "prior".
- `atsal`: ATSal's networks (models/nets/atsal.py) run through ONNX Runtime; the cube projections, the
  experts' per-face densities and the fusion (attention^α × experts^γ) are done here in numpy. The experts see
  three cube maps turned 30° apart about the vertical axis, blended so that no cube-face border shows; each
  face's share of the experts' map is its share of the attention stream's learned latitude prior.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

from models.nets.atsal import ATSal
from models.registry import register_model
from models.runtime.densities import EPS, normalise
from models.runtime.fold_bn import fold_batchnorm
from models.runtime.images import to_chw
from models.runtime.onnx import accelerate
from models.runtime.projections import (EQUATOR, FACES, POLES, equirect_face_index, equirect_to_faces, face_window,
                                        faces_to_equirect, turn_shift)
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


EXPERT_WIDTH = 512                     # ERP width the experts' maps are blended at (0.7° a pixel)
VIDEO_EXPERTS_EVERY = 2                # in a video the experts run on every other frame (half their cost at 192 px
                                       # faces; their moving average changes slowly anyway), the attention on each
EXPERT_BATCH = 2                       # faces per expert run: on 2 threads ONNX Runtime takes ~45 % longer per
                                       # 192-px face in batches of 4 or more (measured 8.0 vs 11.6 ms)
EXPERT_TURNS_DEG = (0.0, 30.0, 60.0)   # cube maps turned about the vertical axis: every face border of one
                                       # lies inside faces of the others (the cube repeats every 90°)


def face_shares(prior: np.ndarray) -> dict[str, float]:
    """Each cube face's share of the mass of `prior`, an ERP density per solid angle (H, W) that is uniform in
    longitude, so the shares are the same for every turn of the cube about the vertical axis."""
    height, width = prior.shape
    latitude = np.deg2rad(90.0 - (np.arange(height) + 0.5) * 180.0 / height)
    mass = prior * np.cos(latitude)[:, None]                          # per solid angle → per pixel
    index = equirect_face_index(height, width)
    total = max(float(mass.sum()), EPS)
    return {k: float(mass[index == i].sum()) / total for i, k in enumerate(FACES)}


def expert_densities(turns: list[dict[str, np.ndarray]], height: int, width: int,
                     yaws_deg: tuple[float, ...] = EXPERT_TURNS_DEG,
                     shares: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """The experts' face maps of several cube maps, one per yaw → {"poles", "equator", "experts"} ERP densities.

    turns[i] holds all six face maps of the cube turned by yaws_deg[i] (faces of `turned_faces`). Each cube's
    faces become one ERP density (as `faces_to_equirect_density`); the cubes are blended pixel by pixel with
    weights that fall smoothly to 0 on each cube's face edges (projections.face_window), so no face border shows.
    "poles" and "equator" are the shares of that blend coming from U/D and from F/R/B/L faces, each normalised;
    "experts" is the whole blend. One cube (a single turn) gives back its hard face borders.
    `shares` ({face: weight}, e.g. `face_shares` of a latitude prior) weights each face's mass: the experts only
    say where to look inside a face, the prior says how much of the gaze a face gets. None = every face alike.
    """
    if len(turns) != len(yaws_deg) or not turns:
        raise ValueError(f"expected one set of face maps per yaw ({len(yaws_deg)}); got {len(turns)}")
    window, on_poles, total = _blend_weights(height, width, tuple(yaws_deg))
    poles, equator = np.zeros((height, width)), np.zeros((height, width))
    for masses, yaw, w, pole_part in zip(turns, yaws_deg, window, on_poles):
        weighted = np.roll(_raw_expert_density(masses, height, width, shares), turn_shift(width, yaw), axis=1) * w
        poles += np.where(pole_part, weighted, 0.0)
        equator += np.where(pole_part, 0.0, weighted)
    return {"poles": normalise(poles / total), "equator": normalise(equator / total),
            "experts": normalise((poles + equator) / total)}


@functools.lru_cache(maxsize=8)
def _blend_weights(height: int, width: int, yaws_deg: tuple[float, ...]):
    """Per turn: its face window and its pole faces, turned into place; and the windows' sum. Each window gets a
    floor of 1e-6, so a pixel exactly on every turn's face edge (possible at small sizes) takes their plain mean."""
    shifts = [turn_shift(width, yaw) for yaw in yaws_deg]
    window = [np.roll(face_window(height, width), s, axis=1) + 1e-6 for s in shifts]
    on_poles = np.isin(equirect_face_index(height, width), [FACES.index(k) for k in POLES])
    return window, [np.roll(on_poles, s, axis=1) for s in shifts], sum(window)


def turned_faces(equi: np.ndarray, face_w: int, yaws_deg: tuple[float, ...] = EXPERT_TURNS_DEG) -> list[dict]:
    """The cube faces of `equi` for each cube map turned by yaws_deg (see projections.turn_shift)."""
    width = equi.shape[1]
    return [equirect_to_faces(np.roll(equi, -turn_shift(width, yaw), axis=1), face_w) for yaw in yaws_deg]


def _raw_expert_density(face_masses: dict[str, np.ndarray], height: int, width: int,
                        shares: dict[str, float] | None = None) -> np.ndarray:
    n = max(np.shape(m)[0] for m in face_masses.values())
    jac = face_jacobian(n)
    faces = {}
    for k in FACES:
        if k in face_masses:
            m = cv2.resize(np.asarray(face_masses[k], dtype=np.float64), (n, n), interpolation=cv2.INTER_LINEAR)
            m = np.clip(m, 0, None)
            share = 1.0 if shares is None else shares[k]
            faces[k] = (share * m / max(m.sum(), EPS) / jac).astype(np.float32)   # float32: cv2.remap's fast path
        else:
            faces[k] = np.zeros((n, n), np.float32)
    return faces_to_equirect(faces, height, width).astype(np.float64)


FUSE_ROWS = 64


def _power_in_place(x: np.ndarray, exponent: float) -> None:
    if exponent == 0.5:
        np.sqrt(x, out=x)                   # np.power(·, 0.5, out=) takes the slow general path: 5× longer
    elif exponent != 1:
        np.power(x, exponent, out=x)


def fuse(attention: np.ndarray, experts: np.ndarray, gamma: float = 1.0, alpha: float = 1.0) -> np.ndarray:
    """ATSal's fusion as a log-linear pool: attention^α × experts^γ, renormalised. α = γ = 1 is the paper's plain
    product; γ < 1 trusts the experts less (a sharp expert peak on a face the attention stream half-ignores
    should not win outright), α < 1 the attention stream less (its low-resolution view of the whole sphere);
    γ = 0, α = 1 is attention alone."""
    if gamma < 0 or alpha <= 0:
        raise ValueError(f"fusion needs gamma ≥ 0 and alpha > 0; got gamma {gamma}, alpha {alpha}")
    # One new array, worked on in place, the experts' weight a block of rows at a time: at 2048×1024 every new
    # full-size temporary costs its page faults (this took 65 ms with plain expressions).
    fused = np.maximum(np.asarray(attention, dtype=np.float64), 0.0)
    _power_in_place(fused, alpha)
    if gamma != 0:
        experts = np.asarray(experts)
        buffer = np.empty((FUSE_ROWS,) + fused.shape[1:])        # reused: a fresh block would fault its pages too
        for top in range(0, fused.shape[0], FUSE_ROWS):
            weight = buffer[:len(fused[top:top + FUSE_ROWS])]
            np.maximum(experts[top:top + FUSE_ROWS], 0.0, out=weight)
            _power_in_place(weight, gamma)
            fused[top:top + FUSE_ROWS] *= weight
    fused /= max(float(fused.sum()), EPS)
    return fused


def _resize_density(density: np.ndarray, height: int, width: int) -> np.ndarray:
    """A per-solid-angle density resized bilinearly to (height, width), renormalised to sum 1 (bilinear keeps a
    non-negative map non-negative: no clipping needed)."""
    resized = cv2.resize(density.astype(np.float64), (width, height), interpolation=cv2.INTER_LINEAR)
    resized /= max(float(resized.sum()), EPS)
    return resized


class ATSalPanoramaModel:
    """ATSal as a panorama model: `predict` gives the fused map, `predict_streams` every stream.

    `onnx=False` runs the networks as they are (training's validation), without folding their BatchNorm."""
    needs_gaze = False
    streams = ("fused", "attention", "attention_map", "prior", "experts", "poles", "equator")

    def __init__(self, network: ATSal, notice: str = "", onnx: bool = True):
        self.notice = notice
        if onnx:
            net = fold_batchnorm(network.float().eval())                     # same outputs, fewer layers to run
            s = net.poles.face_size
            self._runners = {"attention": accelerate(net.attention, torch.rand(1, 3, *net.attention.input_size)),
                             "poles": accelerate(net.poles, torch.rand(EXPERT_BATCH, 3, s, s)),
                             "equator": accelerate(net.equator, torch.rand(EXPERT_BATCH, 3, s, s))}
            self.runtime = "onnxruntime" if "onnxruntime" in {r.runtime for r in self._runners.values()} else "torch"
        else:
            net = network
            self._runners = {"attention": net.attention, "poles": net.poles, "equator": net.equator}
            self.runtime = "torch"
        self.network = net
        self._video_logs: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None   # per turn, in a video
        self._next_turn = 0
        self._video_frame = 0
        self._video_experts: dict[str, np.ndarray] | None = None    # the experts' streams of the last refresh

    @torch.inference_mode()
    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        """ERP frame (H, W, 3) uint8 RGB → {stream: (H, W) float64}.

        "attention", "prior", "poles", "equator", "experts" and "fused" are densities per solid angle summing to 1;
        "prior" is the attention stream's learned latitude prior alone (uniform in longitude);
        "attention_map" is ATSal's attention map A in [0, 1] (upsampled, not normalised). "experts" blends
        both experts over three turned cube maps (`expert_densities`), each face weighted by its share of the
        latitude prior; "poles" and "equator" are the shares of that blend from each expert (zero where it never
        looks); "fused" is attention^α × experts^γ renormalised.
        `temporal=True` smooths the experts over successive calls (video; `reset_temporal()` between videos) and
        refreshes one turn of the cube every VIDEO_EXPERTS_EVERY calls (`_expert_masses`); the calls between keep
        the experts' streams of the last refresh (the attention stream and the fusion are new every frame).
        """
        equi = np.asarray(equi)
        if equi.ndim != 3 or equi.shape[2] != 3 or equi.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB equirectangular frame; got {equi.shape} {equi.dtype}")
        H, W = equi.shape[:2]
        net = self.network
        was_training = net.training                # only a network in training (validation) needs switching:
        if was_training:                           # eval() walks every module, ~5 ms a video frame
            net.eval()
        try:
            h, w = net.attention.input_size
            x = to_chw(cv2.resize(equi, (w, h), interpolation=cv2.INTER_AREA))[None]    # (1, 3, h, w)
            log_density, attn = self._runners["attention"](x)                                         # (1, h/4, w/4), (1, 1, ·, ·)
            attention = _resize_density(np.exp(log_density[0].numpy()), H, W)
            attention_map = cv2.resize(attn[0, 0].numpy().astype(np.float64), (W, H), interpolation=cv2.INTER_LINEAR)
            np.clip(attention_map, 0.0, 1.0, out=attention_map)

            reuse = (temporal and self._video_experts is not None and self._video_frame % VIDEO_EXPERTS_EVERY != 0
                     and self._video_experts["experts"].shape == (H, W))
            self._video_frame += int(temporal)
            masses = None if reuse else self._expert_masses(equi, temporal)
        finally:
            if was_training:
                net.train()

        # The experts' maps (s/4 px per 90° face) are blended at EXPERT_WIDTH at most, then resized: finer adds nothing.
        if reuse:
            streams = self._video_experts
        else:
            w, h = min(W, EXPERT_WIDTH), max(1, round(H * min(W, EXPERT_WIDTH) / W))
            shares = face_shares(self.latitude_prior(h, w))
            streams = {k: v if (h, w) == (H, W) else _resize_density(v, H, W)
                       for k, v in expert_densities(masses, h, w, shares=shares).items()}   # poles, equator, experts
            if temporal:
                self._video_experts = streams
        return {"attention": attention, "attention_map": attention_map, "prior": self.latitude_prior(H, W), **streams,
                "fused": fuse(attention, streams["experts"], net.config.fusion_gamma, net.config.fusion_alpha)}

    def latitude_prior(self, height: int, width: int) -> np.ndarray:
        """The attention stream's learned log-prior over latitude as a density (height, width), uniform in longitude."""
        with torch.inference_mode():
            log_rows = self.network.attention.equator_prior(height).reshape(height).double().numpy()
        rows = np.exp(log_rows - log_rows.max())
        return np.repeat((rows / (max(float(rows.sum()), EPS) * width))[:, None], width, axis=1)

    def _expert_masses(self, equi: np.ndarray, temporal: bool) -> list[dict[str, np.ndarray]]:
        """Per turn of EXPERT_TURNS_DEG, {face: the experts' map over it} (renormalised per face later).

        A still image runs the experts on every turn. In a video (`temporal`) the first frame does too, then each
        refresh (every VIDEO_EXPERTS_EVERY frames) runs one turn in rotation, so it costs one cube map; each turn
        keeps its own exponential moving average of the log-densities, with the network's α raised to
        1 − (1 − α)^(n·k) for n turns refreshed every k frames, so a change fades in over as many frames as with
        one cube refreshed every frame.
        """
        n = len(EXPERT_TURNS_DEG)
        todo = [self._next_turn] if temporal and self._video_logs is not None else list(range(n))
        size = self.network.poles.face_size
        faces = {i: turned_faces(equi, size, (EXPERT_TURNS_DEG[i],))[0] for i in todo}
        log_poles = self._in_batches("poles", [faces[i][k] for i in todo for k in POLES])
        log_equator = self._in_batches("equator", [faces[i][k] for i in todo for k in EQUATOR])
        logs = {i: (log_poles[j * len(POLES):(j + 1) * len(POLES)], log_equator[j * len(EQUATOR):(j + 1) * len(EQUATOR)])
                for j, i in enumerate(todo)}
        if temporal:
            if self._video_logs is None:
                self._video_logs = logs
            else:
                i = todo[0]
                a_poles = 1 - (1 - self.network.ema_poles.alpha) ** (n * VIDEO_EXPERTS_EVERY)
                a_equator = 1 - (1 - self.network.ema_equator.alpha) ** (n * VIDEO_EXPERTS_EVERY)
                (p, e), (p_old, e_old) = logs[i], self._video_logs[i]
                self._video_logs[i] = (a_poles * p + (1 - a_poles) * p_old, a_equator * e + (1 - a_equator) * e_old)
                self._next_turn = (i + 1) % n
            logs = self._video_logs
        return [{**dict(zip(POLES, np.exp(logs[i][0].numpy()))), **dict(zip(EQUATOR, np.exp(logs[i][1].numpy())))}
                for i in range(n)]

    def _in_batches(self, expert: str, faces: list[np.ndarray]) -> torch.Tensor:
        """The expert's log-densities of `faces`: through ONNX Runtime EXPERT_BATCH faces per run (its session's
        fixed shape; a last odd face runs in PyTorch), in PyTorch all at once (faster there)."""
        runner = self._runners[expert]
        x = torch.stack([to_chw(f) for f in faces])
        step = EXPERT_BATCH if getattr(runner, "session", None) is not None else len(x)
        return torch.cat([runner(x[i:i + step]) for i in range(0, len(x), step)])

    def predict(self, equi: np.ndarray) -> np.ndarray:
        return self.predict_streams(equi)["fused"]

    def reset_temporal(self) -> None:
        self.network.reset_temporal()
        self._video_logs, self._next_turn = None, 0
        self._video_frame, self._video_experts = 0, None


@register_model("panorama")
def equator_bias(**_) -> EquatorBiasModel:
    """Equator bias for equirectangular panoramas (latitude Gaussian, σ 20°)."""
    return EquatorBiasModel()


@register_model("panorama", bundled="atsal", default=True,
                description="ATSal: attention stream × poles/equator experts, trained on synthetic panoramas (see its model card).")
def atsal(weights: str | None = None) -> ATSalPanoramaModel:
    network, notice, _ = load_pretrained(ATSal, "atsal", weights)
    return ATSalPanoramaModel(network, notice)
