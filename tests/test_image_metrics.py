"""CQBench image metrics against independent computations."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import uniform_filter

from mmpcbench.encoders import ImageFeatures
from mmpcbench.metrics.image import (
    FidAccumulator,
    LpipsScorer,
    fid,
    frechet_distance,
    image_scores,
    read_image,
    resize_uint8,
    to_rgb,
)

LITE0 = {"family": "efficientnet_lite0", "image_size": 64, "batch_size": 8}
PIXELS = ["psnr", "ssim", "mse"]


@pytest.fixture(scope="module")
def encoder():
    return ImageFeatures(LITE0)


@pytest.fixture(scope="module")
def lpips_rand():
    return LpipsScorer(pretrained_backbone=False)


def _noise(seed, shape=(64, 80, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _ssim_by_hand(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Wang et al. SSIM with a uniform window and sample covariances, averaged over channels and over
    the valid (uncropped) window positions: an independent re-computation of scikit-image's definition."""
    c1, c2 = 0.01**2, 0.03**2
    pad = (win - 1) // 2
    values = []
    for channel in range(a.shape[2]):
        x, y = a[..., channel].astype(np.float64), b[..., channel].astype(np.float64)
        n = win * win
        mx, my = uniform_filter(x, win), uniform_filter(y, win)
        vx = (uniform_filter(x * x, win) - mx * mx) * n / (n - 1)
        vy = (uniform_filter(y * y, win) - my * my) * n / (n - 1)
        cxy = (uniform_filter(x * y, win) - mx * my) * n / (n - 1)
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        values.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(values))


def test_identical_images_score_perfectly(encoder, lpips_rand):
    image = _noise(1)
    scores = image_scores([image], [image.copy()], lpips_scorer=lpips_rand, clip_encoder=encoder)
    assert scores["psnr"][0] == 100.0  # the cap, not infinity
    assert scores["ssim"][0] == pytest.approx(1.0)
    assert scores["mse"][0] == 0.0
    assert scores["lpips"][0] == pytest.approx(0.0, abs=1e-6)
    assert scores["clip"][0] == pytest.approx(1.0, abs=1e-5)


def test_psnr_and_mse_follow_their_formula_on_constant_images():
    black = np.zeros((64, 64, 3), np.uint8)
    grey = np.full((64, 64, 3), 51, np.uint8)  # 0.2 in [0, 1]
    scores = image_scores([black], [grey], metrics=PIXELS)
    assert scores["mse"][0] == pytest.approx(0.04, rel=1e-6)
    assert scores["psnr"][0] == pytest.approx(10 * math.log10(1 / 0.04), rel=1e-6)


def test_ssim_equals_an_independent_computation():
    a, b = _noise(2), _noise(3)
    b = ((a.astype(int) + b.astype(int)) // 2).astype(np.uint8)  # correlated with a
    scores = image_scores([a], [b], metrics=["ssim"])
    assert scores["ssim"][0] == pytest.approx(_ssim_by_hand(a / 255, b / 255), abs=1e-9)


def _float_first_resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """The order the authors did not use: float first, then bilinear (half-pixel centres, no antialias)."""
    x = torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)[None].double()
    y = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return y[0].permute(1, 2, 0).numpy()


def test_generated_image_is_resized_as_uint8_by_opencv_before_the_float_conversion():
    import cv2

    reference, generated = _noise(4, (48, 64, 3)), _noise(5, (20, 30, 3))
    resized = cv2.resize(generated, (64, 48), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    expected = float(np.mean((reference.astype(np.float32) / 255 - resized).astype(np.float64) ** 2))
    got = image_scores([reference], [generated], metrics=["mse"])["mse"][0]
    assert got == pytest.approx(expected, rel=1e-6)
    # resizing floats first gives another number: the order matters, and ours is the authors'
    other = float(np.mean((reference / 255 - _float_first_resize(generated, 48, 64)) ** 2))
    assert abs(got - other) > 1e-6
    # a uniform image stays uniform: same colour at another size is a perfect match
    same = image_scores([np.full((64, 64, 3), 90, np.uint8)], [np.full((9, 13, 3), 90, np.uint8)], metrics=PIXELS)
    assert same["mse"][0] == pytest.approx(0.0, abs=1e-12)


def test_fixed_size_option_resizes_both_images():
    reference, generated = _noise(6, (40, 60, 3)), _noise(7, (100, 100, 3))
    scores = image_scores([reference], [generated], metrics=["mse"], size=32)
    a = resize_uint8(reference, 32, 32).astype(np.float64) / 255
    b = resize_uint8(generated, 32, 32).astype(np.float64) / 255
    assert scores["mse"][0] == pytest.approx(float(np.mean((a - b) ** 2)), rel=1e-6)


def test_clip_sees_the_generated_image_at_the_reference_size(encoder):
    reference, generated = _noise(20, (60, 100, 3)), _noise(21, (128, 128, 3))
    got = image_scores([reference], [generated], metrics=["clip"], clip_encoder=encoder, clip=LITE0)["clip"][0]

    def cosine(a, b):
        a, b = encoder.pil([Image.fromarray(a)])[0], encoder.pil([Image.fromarray(b)])[0]
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert got == pytest.approx(cosine(reference, resize_uint8(generated, 60, 100)), abs=1e-6)
    assert abs(got - cosine(reference, generated)) > 1e-4  # encoding it at its own size differs


def test_grayscale_and_rgba_inputs_are_converted_to_rgb():
    gray = _noise(8, (64, 64))
    assert to_rgb(gray).shape == (64, 64, 3) and (to_rgb(gray)[..., 1] == gray).all()
    scores = image_scores([np.stack([gray] * 3, axis=2)], [Image.fromarray(gray, mode="L")], metrics=PIXELS)
    assert scores["mse"][0] == 0.0


def test_alpha_is_dropped_not_composited_as_the_authors_imread():
    rgb_a, rgb_b = _noise(30, (40, 30, 3)), _noise(31, (40, 30, 3))
    alpha = np.random.default_rng(32).integers(0, 256, (40, 30, 1), dtype=np.uint8)
    rgba_a, rgba_b = np.dstack([rgb_a, alpha]), np.dstack([rgb_b, alpha])
    assert (to_rgb(rgba_a) == rgb_a).all()
    assert (to_rgb(Image.fromarray(rgba_a, mode="RGBA")) == rgb_a).all()
    stored = image_scores([rgba_a], [rgba_b], metrics=PIXELS)
    plain = image_scores([rgb_a], [rgb_b], metrics=PIXELS)
    assert stored["psnr"][0] == plain["psnr"][0] and stored["ssim"][0] == plain["ssim"][0]


def test_read_image_decodes_as_opencv_and_drops_alpha(tmp_path):
    import cv2

    rgba = np.dstack([_noise(33, (40, 30, 3)), np.full((40, 30, 1), 7, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    assert (read_image(tmp_path / "a.png") == rgba[:, :, :3]).all()
    photo = _noise(34, (48, 64, 3))
    Image.fromarray(photo).save(tmp_path / "b.jpg", quality=90)
    assert (read_image(tmp_path / "b.jpg") == cv2.imread(str(tmp_path / "b.jpg"))[:, :, ::-1]).all()
    Image.fromarray(photo).save(tmp_path / "c.gif")  # OpenCV cannot read GIF: PIL's decoding
    assert read_image(tmp_path / "c.gif").shape == (48, 64, 3)
    (tmp_path / "d.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="d.jpg"):
        read_image(tmp_path / "d.jpg")


def test_missing_generated_image_gives_null_in_every_column(encoder, lpips_rand):
    scores = image_scores([_noise(10), _noise(11)], [None, _noise(11)], lpips_scorer=lpips_rand, clip_encoder=encoder)
    for metric in scores.columns:
        assert scores[metric].is_null().to_list() == [True, False]


def test_lpips_orders_a_slight_change_below_a_different_image_and_skips_small_images(lpips_rand):
    reference = _noise(12)
    slight = np.clip(reference.astype(int) + 6, 0, 255).astype(np.uint8)
    pairs = [(reference / 255, slight / 255), (reference / 255, _noise(13) / 255)]
    near, far = lpips_rand.distances([(a.astype(np.float32), b.astype(np.float32)) for a, b in pairs])
    assert near < far
    small = _noise(14, (32, 32, 3)).astype(np.float32) / 255
    assert math.isnan(lpips_rand.distances([(small, small)])[0])


def test_clip_slot_ranks_the_same_photo_above_another(encoder):
    reference = _noise(15)
    noisy = np.clip(reference.astype(int) + np.random.default_rng(0).integers(-20, 20, reference.shape), 0, 255)
    scores = image_scores([reference, reference], [noisy.astype(np.uint8), _noise(16)], metrics=["clip"],
                          clip_encoder=encoder, clip=LITE0)
    assert scores["clip"][0] > scores["clip"][1]


def test_frechet_distance_equals_torchmetrics_fid(encoder):
    from torchmetrics.image.fid import FrechetInceptionDistance

    real = [_noise(20 + i, (64, 64, 3)) for i in range(12)]
    fake = [np.clip(r.astype(int) // 2 + 40, 0, 255).astype(np.uint8) for r in real]

    class Features(torch.nn.Module):
        num_features = 1280

        def forward(self, x):
            return encoder.tensor(x.float() / 255).double()

    metric = FrechetInceptionDistance(feature=Features())
    metric.update(torch.from_numpy(np.stack(real)).permute(0, 3, 1, 2), real=True)
    metric.update(torch.from_numpy(np.stack(fake)).permute(0, 3, 1, 2), real=False)
    ours = frechet_distance(encoder.tensor(torch.from_numpy(np.stack(real)).permute(0, 3, 1, 2) / 255).numpy(),
                            encoder.tensor(torch.from_numpy(np.stack(fake)).permute(0, 3, 1, 2) / 255).numpy())
    assert ours == pytest.approx(float(metric.compute()), rel=1e-4)


def test_fid_is_zero_for_identical_sets_and_none_below_the_minimum(encoder):
    real = [_noise(40 + i) for i in range(12)]
    assert fid(real, real, features="encoder", encoder=encoder) == pytest.approx(0.0, abs=1e-3)
    assert fid(real, [_noise(70 + i) for i in range(12)], features="encoder", encoder=encoder) > 1e-3
    assert fid(real[:5], real[:5], features="encoder", encoder=encoder) is None
    accumulator = FidAccumulator("encoder", encoder=encoder)
    with pytest.raises(ValueError, match="update_features"):
        accumulator.update(real, real)


def test_random_lpips_backbone_is_drawn_from_its_seed():
    a, b = _noise(50).astype(np.float32) / 255, _noise(51).astype(np.float32) / 255
    torch.manual_seed(123)  # the global generator must not matter
    first = LpipsScorer(pretrained_backbone=False, seed=7).distances([(a, b)])
    torch.manual_seed(456)
    again = LpipsScorer(pretrained_backbone=False, seed=7).distances([(a, b)])
    other = LpipsScorer(pretrained_backbone=False, seed=8).distances([(a, b)])
    assert first[0] == again[0] and first[0] != other[0]


def _activations(net) -> set[str]:
    return {type(m).__name__ for m in net.modules() if type(m).__name__ in ("QuickGELU", "GELU")}


def test_paper_config_clip_is_openais_network_with_quickgelu():
    # open_clip builds plain ViT-B-32 with GELU even for OpenAI's weights (open_clip #771); OpenAI's
    # network, which the weights belong to, uses QuickGELU. Random weights: the build is offline.
    import open_clip

    from mmpcbench.config import load_config
    from mmpcbench.encoders import open_clip_arguments

    spec = load_config("config.yaml")["metrics"]["image"]["clip"]
    assert spec["pretrained"] == "openai"
    net = open_clip.create_model(spec["model"], pretrained=None, **open_clip_arguments(spec))
    assert _activations(net) == {"QuickGELU"}
    # the plain architecture name with OpenAI's weights is forced to QuickGELU too
    plain = open_clip.create_model("ViT-B-32", pretrained=None, **open_clip_arguments({"pretrained": "openai"}))
    assert _activations(plain) == {"QuickGELU"}


def test_clip_encoder_records_its_architecture():
    quick = ImageFeatures({"family": "open_clip", "model": "ViT-B-32-quickgelu", "pretrained": None})
    assert quick.architecture() == {"family": "open_clip", "model": "ViT-B-32-quickgelu", "pretrained": None,
                                    "dtype": "float32", "activation": "QuickGELU"}
    assert _activations(quick.net) == {"QuickGELU"}
