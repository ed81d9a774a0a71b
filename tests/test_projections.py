"""ERP ↔ cube-map projections and flat images pasted on the sphere (models/projections.py)."""
from __future__ import annotations

import numpy as np
import pytest

from models.runtime import projections as proj
from training import panorama_synthesis as synth
from training.metrics.panorama import weighted_cc, weighted_kld

H, W = 128, 256


def smooth_field(directions: np.ndarray) -> np.ndarray:
    """A smooth, asymmetric function on the sphere, so each face and orientation gives different values."""
    x, y, z = directions[..., 0], directions[..., 1], directions[..., 2]
    return 1.0 + 0.3 * x + 0.5 * y + 0.8 * z + 0.4 * x * y - 0.2 * z * z


def unit(*v: float) -> np.ndarray:
    v = np.array(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def expected_equirect_xy(yaw_deg: float, pitch_deg: float, height: int = H, width: int = W) -> tuple[float, float]:
    return (yaw_deg / 360 + 0.5) * width, (0.5 - pitch_deg / 180) * height


def brightness_centroid(channel: np.ndarray) -> tuple[float, float]:
    w = channel.astype(np.float64)
    yy, xx = np.mgrid[0:channel.shape[0], 0:channel.shape[1]]
    return float((w * (xx + 0.5)).sum() / w.sum()), float((w * (yy + 0.5)).sum() / w.sum())


# ------------------------------------------------------------------------------------------------ cube map

def test_faces_keys_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    faces = proj.equirect_to_faces(rgb, 32)
    assert tuple(faces) == proj.FACES == ("F", "R", "B", "L", "U", "D")
    assert all(f.shape == (32, 32, 3) and f.dtype == np.uint8 for f in faces.values())
    gray = proj.equirect_to_faces(rng.random((H, W)).astype(np.float32), 31)
    assert all(f.shape == (31, 31) and f.dtype == np.float32 for f in gray.values())
    assert proj.faces_to_equirect(gray, 60, 120).dtype == np.float32           # any width, not only ×8
    mask = proj.equirect_to_faces(rng.random((H, W)) > 0.5, 16)                 # bool: py360convert refuses it
    assert mask["F"].dtype == np.float64
    with pytest.raises(ValueError, match="missing"):
        proj.faces_to_equirect({k: gray[k] for k in "FRBLU"}, H, W)
    with pytest.raises(ValueError, match="shape"):
        proj.faces_to_equirect({**gray, "U": gray["U"][:30]}, H, W)


def test_face_centres_and_orientation():
    """Face pixels look where py360convert's cube says: F at the ERP centre, R to the right, U's bottom and
    D's top edges meeting F."""
    field = smooth_field(proj.equirect_directions(H, W))
    fw = 33
    c, last = fw // 2, fw - 1
    faces = proj.equirect_to_faces(field, fw)
    expected = {
        ("F", c, c): unit(0, 0, 1), ("R", c, c): unit(1, 0, 0), ("B", c, c): unit(0, 0, -1),
        ("L", c, c): unit(-1, 0, 0), ("U", c, c): unit(0, 1, 0), ("D", c, c): unit(0, -1, 0),
        ("F", c, last): unit(1, 0, 1), ("F", 0, c): unit(0, 1, 1),                 # F's right and top edges
        ("R", c, 0): unit(1, 0, 1), ("B", c, 0): unit(1, 0, -1),                   # R starts where F ends
        ("U", last, c): unit(0, 1, 1), ("U", 0, c): unit(0, 1, -1), ("U", c, last): unit(1, 1, 0),
        ("D", 0, c): unit(0, -1, 1), ("D", last, c): unit(0, -1, -1), ("D", c, last): unit(1, -1, 0),
    }
    for (face, row, col), direction in expected.items():
        assert faces[face][row, col] == pytest.approx(smooth_field(direction), abs=0.02), (face, row, col)


def test_face_f_centre_is_the_equirect_centre():
    """On noise (no smoothness to hide an offset) F's centre is the mean of the 4 central ERP pixels."""
    noise = np.random.default_rng(1).random((H, W))
    f = proj.equirect_to_faces(noise, 65)["F"]
    assert f[32, 32] == pytest.approx(noise[H // 2 - 1:H // 2 + 1, W // 2 - 1:W // 2 + 1].mean(), abs=1e-6)


def test_round_trip_smooth_image():
    field = smooth_field(proj.equirect_directions(H, W))
    back = proj.faces_to_equirect(proj.equirect_to_faces(field, 96), H, W)
    assert back.shape == (H, W)
    assert np.abs(back - field).max() < 2e-3          # seams included: the inverse uses e2c's own grid
    rgb = np.clip(np.stack([field * 100, field * 80 + 20, 255 - field * 90], -1), 0, 255).astype(np.uint8)
    back_rgb = proj.faces_to_equirect(proj.equirect_to_faces(rgb, 96), H, W)
    assert back_rgb.dtype == np.uint8 and back_rgb.shape == rgb.shape
    assert np.abs(back_rgb.astype(int) - rgb).mean() < 0.6 and np.abs(back_rgb.astype(int) - rgb).max() <= 2


def test_round_trip_density():
    """A von Mises–Fisher blob (a density per solid angle) survives ERP → faces → ERP."""
    d = proj.equirect_directions(H, W)
    density = np.exp(12 * (d @ unit(0.7, 0.4, -0.6) - 1)) + 0.3 * np.exp(20 * (d @ unit(0, -1, 0.3) - 1))
    density /= density.sum()
    back = proj.faces_to_equirect(proj.equirect_to_faces(density, 80), H, W)
    back /= back.sum()
    assert np.abs(back - density).max() < 0.01 * density.max()
    assert weighted_kld(back, density) < 1e-4 and weighted_cc(back, density) > 0.9999


def test_split_streams():
    faces = proj.equirect_to_faces(np.zeros((H, W)), 8)
    poles, equator = proj.split_streams(faces)
    assert proj.POLES == ("U", "D") and proj.EQUATOR == ("F", "R", "B", "L")
    assert tuple(poles) == ("U", "D") and tuple(equator) == ("F", "R", "B", "L")
    assert poles["U"] is faces["U"] and equator["B"] is faces["B"]
    with pytest.raises(ValueError, match="missing D"):
        proj.split_streams({k: faces[k] for k in "FRBLU"})


# ------------------------------------------------------------------------------------------- paste on sphere

@pytest.mark.parametrize("yaw, pitch", [(60.0, 20.0), (-150.0, -35.0), (179.0, 0.0)])
def test_paste_puts_image_centre_at_yaw_pitch(yaw, pitch):
    image = np.zeros((90, 120, 3), np.uint8)
    image[43:47, 58:62] = 255                                   # a marker around the centre (60, 45)
    pano, _ = synth.paste_on_sphere(np.zeros((H, W, 3), np.uint8), image, np.ones((90, 120)), yaw, pitch, 40)
    x, y = brightness_centroid(pano[..., 0])
    ex, ey = expected_equirect_xy(yaw, pitch)
    if abs(yaw) > 170:                                          # the marker straddles the ERP seam
        x = brightness_centroid(np.roll(pano[..., 0], W // 2, axis=1))[0] - W / 2
        ex -= W if ex > W / 2 else 0
    assert x == pytest.approx(ex, abs=0.5) and y == pytest.approx(ey, abs=0.5)
    point = synth.image_points_to_equirect([[60, 45]], (120, 90), yaw, pitch, 40, (W, H))[0]
    assert point[1] == pytest.approx(ey, abs=1e-9)
    assert np.mod(point[0] - expected_equirect_xy(yaw, pitch)[0] + W / 2, W) - W / 2 == pytest.approx(0, abs=1e-9)


def test_paste_density_sums_to_one_inside_footprint():
    background = np.full((H, W, 3), 7, np.uint8)
    image = np.full((60, 80, 3), 200, np.uint8)
    density = np.random.default_rng(2).random((60, 80)) + 0.1
    pano, rho = synth.paste_on_sphere(background, image, density, -40, 30, 70)
    footprint = pano[..., 0] == 200
    assert pano.dtype == np.uint8 and np.all(pano[~footprint] == 7) and footprint.sum() > 100
    assert rho.shape == (H, W) and rho.sum() == pytest.approx(1.0, abs=1e-12) and rho.min() >= 0
    assert rho[~footprint].sum() == 0 and np.all(rho[footprint] > 0)
    assert np.all(background == 7)                              # the input is not modified


def test_paste_density_is_a_density_on_the_sphere():
    """A uniform image density keeps each region's share of the image once weighted like the 360° metrics:
    the central quarter (catches a missing cos³ Jacobian of the gnomonic projection) and the top half far
    from the equator (catches a missing or doubled cos-latitude weighting)."""
    background = np.zeros((2 * H, 2 * W, 3), np.uint8)
    centre = np.zeros((100, 160, 3), np.uint8)
    centre[25:75, 40:120] = 255
    pano, rho = synth.paste_on_sphere(background, centre, np.ones((100, 160)), -100, 40, 90)
    assert synth.sphere_mass(rho)[pano[..., 0] > 127].sum() == pytest.approx(0.25, abs=0.01)
    top = np.zeros((160, 120, 3), np.uint8)
    top[:80] = 255
    pano, rho = synth.paste_on_sphere(background, top, np.ones((160, 120)), 30, 50, 80)
    assert synth.sphere_mass(rho)[pano[..., 0] > 127].sum() == pytest.approx(0.5, abs=0.01)


def test_points_land_on_the_pasted_content():
    image = np.zeros((150, 200, 3), np.uint8)
    yy, xx = np.mgrid[0:150, 0:200]
    for x0, y0, yaw, pitch, fov in [(150.3, 40.7, 170, -30, 70), (20.0, 130.0, -60, 45, 90), (100, 75, 0, 0, 30)]:
        blob = np.exp(-((xx + 0.5 - x0) ** 2 + (yy + 0.5 - y0) ** 2) / (2 * 2.5 ** 2))
        image[..., 0] = np.round(255 * blob).astype(np.uint8)
        pano, rho = synth.paste_on_sphere(np.zeros((H, W, 3), np.uint8), image, blob, yaw, pitch, fov)
        px, py = synth.image_points_to_equirect(np.array([[x0, y0]]), (200, 150), yaw, pitch, fov, (W, H))[0]
        cx, cy = brightness_centroid(pano[..., 0])
        assert (cx, cy) == pytest.approx((px, py), abs=0.6)
        peak_y, peak_x = np.unravel_index(np.argmax(rho), rho.shape)
        assert abs(peak_x + 0.5 - px) <= 1.5 and abs(peak_y + 0.5 - py) <= 1.5


def test_paste_rejects_bad_input():
    bg, img = np.zeros((H, W, 3), np.uint8), np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="shape"):
        synth.paste_on_sphere(bg, img, np.ones((30, 20)), 0, 0, 60)
    with pytest.raises(ValueError, match="non-negative"):
        synth.paste_on_sphere(bg, img, np.zeros((20, 30)), 0, 0, 60)
    with pytest.raises(ValueError, match="field of view"):
        synth.paste_on_sphere(bg, img, np.ones((20, 30)), 0, 0, 180)
    with pytest.raises(ValueError, match="channels"):
        synth.paste_on_sphere(bg, img[..., 0], np.ones((20, 30)), 0, 0, 60)


# ------------------------------------------------------------------------------------- synthetic panoramas

def _items(seed: int, n: int = 3):
    from tests.conftest import draw_image
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        image, (cx, cy) = draw_image(seed * 10 + i, (120, 90))
        fixations = np.clip(rng.normal((cx, cy), 6, (int(rng.integers(5, 30)), 2)), 0, [119, 89])
        items.append((image, fixations))
    return items


def test_synthetic_panorama_is_deterministic_and_consistent():
    background = np.full((H, W, 3), 30, np.uint8)
    items = _items(0)
    a = synth.make_synthetic_panorama(background, items, np.random.default_rng(5), fov_deg=50.0)
    b = synth.make_synthetic_panorama(background, items, np.random.default_rng(5), fov_deg=50.0)
    c = synth.make_synthetic_panorama(background, items, np.random.default_rng(6), fov_deg=50.0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[2], c[2])
    pano, density, fixations = a
    assert pano.shape == background.shape and pano.dtype == np.uint8 and np.all(background == 30)
    assert density.sum() == pytest.approx(1.0, abs=1e-12) and density.min() >= 0
    # small images far apart do not overlap, so every fixation is kept, on pasted content, near the mass
    assert fixations.shape == (sum(len(f) for _, f in items), 2)
    rows, cols = fixations[:, 1].astype(int), fixations[:, 0].astype(int)
    assert np.all(density[rows, cols] > 0) and np.all(np.any(pano[rows, cols] != 30, axis=-1))
    assert np.all((fixations[:, 1] > H * (0.5 - 75 / 180)) & (fixations[:, 1] < H * (0.5 + 75 / 180)))


def test_synthetic_density_weights_images_by_fixation_count():
    background = np.zeros((H, W, 3), np.uint8)
    (_, fix_a), (_, _) = _items(1, 2)
    fix_b = np.concatenate([fix_a, fix_a, fix_a])                # three times as many fixations as a
    img_a, img_b = np.full((90, 120, 3), 100, np.uint8), np.full((90, 120, 3), 200, np.uint8)
    pano, density, fixations = synth.make_synthetic_panorama(background, [(img_a, fix_a), (img_b, fix_b)],
                                                            np.random.default_rng(3), fov_deg=40.0)
    assert len(fixations) == 4 * len(fix_a)
    mass = synth.sphere_mass(density)
    assert mass[pano[..., 0] == 200].sum() == pytest.approx(0.75, abs=0.01)
    assert mass[pano[..., 0] == 100].sum() == pytest.approx(0.25, abs=0.01)


class FixedRng:
    """Puts every image at the same spot, to force an overlap."""
    def uniform(self, low, high):
        return 10.0

    def normal(self, loc, scale):
        return 0.0


def test_synthetic_panorama_drops_covered_fixations():
    background = np.zeros((H, W, 3), np.uint8)
    img_a, img_b = np.full((90, 120, 3), 100, np.uint8), np.full((90, 120, 3), 200, np.uint8)
    (_, fix_a), (_, fix_b) = _items(2, 2)
    pano, density, fixations = synth.make_synthetic_panorama(background, [(img_a, fix_a), (img_b, fix_b)],
                                                            FixedRng(), fov_deg=60.0, max_tries=3)
    assert not np.any(pano[..., 0] == 100)                      # b covers a completely
    assert len(fixations) == len(fix_b)
    expected = synth.image_points_to_equirect(fix_b, (120, 90), 10.0, 0.0, 60.0, (W, H))
    assert np.allclose(fixations, expected)
    assert density[pano[..., 0] != 200].sum() == 0
    with pytest.raises(ValueError, match="no visible fixations"):
        synth.make_synthetic_panorama(background, [(img_a, np.zeros((0, 2)))], np.random.default_rng(0))
