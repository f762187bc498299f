"""Image metrics of CQBench: one row per (reference, generated) pair, and FID per set of pairs.

Definitions (the authors' released ``CQBench/benchmark_all_models_bench.py``; deviations marked):

- **inputs**: RGB uint8. Files are decoded as the authors' ``cv2.imread`` does (OpenCV itself, colour,
  EXIF orientation applied; PIL where OpenCV cannot read the format); an alpha channel is **dropped**
  (the stored RGB is used, not composited: the authors' reading); a grayscale image is replicated to
  three channels. PIL images or ``H×W``/``H×W×1``/``H×W×3``/``H×W×4`` uint8 arrays are accepted too.
- **common size** (``size="reference"``, the authors): the generated **uint8** image is resized to the
  real image's height × width with OpenCV's own ``cv2.resize`` (``INTER_LINEAR``: bilinear, half-pixel
  centres, no antialiasing, OpenCV's fixed-point rounding), and only then converted to float32 in
  [0, 1] (``/ 255``), in that order, as the authors; ``size=N``: both are resized to N×N the same way.
  Every metric below, CLIP included, sees the pair at the common size.
- **psnr**: scikit-image ``peak_signal_noise_ratio`` with data range 1 (``10·log10(1 / mse)``), capped
  at ``psnr_cap`` dB (default 100) so that an identical pair has a finite, perfect value instead of
  infinity (on purpose: the authors' is infinite there);
- **ssim**: scikit-image ``structural_similarity`` with data range 1, a 7×7 uniform window (the largest
  odd window ≤ the smaller side for small images) and one SSIM per channel, averaged;
- **mse**: scikit-image ``mean_squared_error`` of the RGB pixels in [0, 1] (the authors' BGR gives the
  same value: PSNR, SSIM and MSE do not depend on the channel order);
- **lpips**: ``lpips.LPIPS`` (AlexNet by default) on inputs scaled to [−1, 1] in **RGB** order (the
  authors fed BGR by mistake), at the common size; NaN for a pair smaller than ``lpips.min_size``
  (64, as the authors, whose LPIPS needs it). ``lpips.pretrained_backbone: false`` uses the packaged
  linear heads on a random backbone (``pnet_rand``, drawn from ``lpips.seed``): the offline demo's
  stand-in, never called LPIPS-alex;
- **clip**: cosine of the L2-normalised image embeddings of the generated image (resized to the real
  one's size, above) and the real image (image–image, as the authors, no ×100) with the ``clip``
  encoder: in the paper config open_clip ``ViT-B-32-quickgelu`` with OpenAI's weights — OpenAI's
  network, whose MLPs use QuickGELU (``mmpcbench.encoders`` forces QuickGELU for any ``openai``
  checkpoint; plain ``ViT-B-32`` would run those weights through GELU, open_clip #771) — its own
  preprocessing (shortest side to 224, bicubic, centre crop, OpenAI mean/std), in **float32** (the
  authors' ``clip.load`` ran fp16 on CUDA: differences of the order of 1e-3); any other image encoder
  family of ``mmpcbench.encoders`` otherwise (named in every table, never called CLIP). The score
  summary records the architecture (``clip_architecture``: model, weights, activation, dtype);
- **fid** (per set of pairs, not per item; the authors computed it, the paper does not report it):
  torchmetrics' Fréchet distance of 2048-d Inception-v3 pool features (``fid.features: inception``) of
  both images resized to ``fid.size``² as uint8 with ``cv2.resize`` (the authors' 299² PNGs),
  or of the ``clip`` encoder's features (``fid.features: encoder``, the offline stand-in); None with
  fewer than ``fid.min_pairs`` (10) pairs.

A missing generated image (None) gives null in every column — the caller's scoring policy decides.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import polars as pl

from mmpcbench.cost import loading
from mmpcbench.encoders import ImageFeatures
from mmpcbench.families import IMAGE_ENCODERS, METRICS, metrics_completing, resolve
from mmpcbench.metrics.frames import pair_frame, requested
from mmpcbench.models import shared

log = logging.getLogger(__name__)

DEFAULTS = {
    "size": "reference",
    "psnr_cap": 100.0,
    "ssim_window": 7,
    "lpips": {"net": "alex", "pretrained_backbone": True, "min_size": 64, "batch_size": 16, "device": "cpu", "seed": 0},
    "clip": {"family": "open_clip", "model": "ViT-B-32-quickgelu", "pretrained": "openai", "batch_size": 64, "device": "cpu"},
    "fid": {"features": "inception", "min_pairs": 10, "size": 299, "batch_size": 32, "device": "cpu"},
}


def image_options(options: dict) -> dict:
    """The options with the defaults filled in, checked (unknown keys named)."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown image metric options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **options}
    for key in ("lpips", "clip", "fid"):
        defaults = DEFAULTS[key]
        if key == "clip" and (options.get(key) or {}).get("family", defaults["family"]) != defaults["family"]:
            # another encoder family: CLIP's model name and weights do not belong to it
            defaults = {k: v for k, v in defaults.items() if k not in ("model", "pretrained")}
        merged[key] = {**defaults, **(options.get(key) or {})}
    size = merged["size"]
    if size != "reference" and not (isinstance(size, int) and size > 0):
        raise ValueError(f"size must be 'reference' or a positive integer, not {size!r}")
    return merged


def to_rgb(image) -> np.ndarray:
    """A PIL image or a uint8 array as an ``H×W×3`` uint8 RGB array: alpha dropped, gray replicated."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))  # RGBA/LA/P: the stored colours, alpha ignored
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.ascontiguousarray(array[:, :, :3])
    raise ValueError(f"an image array must be H×W, H×W×1, H×W×3 or H×W×4, got shape {array.shape}")


def read_image(path) -> np.ndarray:
    """The image file at ``path`` as ``H×W×3`` uint8 RGB, decoded as the authors' ``cv2.imread``
    (colour, EXIF orientation applied, alpha dropped); PIL for a format OpenCV cannot read (GIF).
    Raises ``ValueError`` (naming the file) when neither can decode it."""
    import cv2
    from PIL import Image

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is not None:
        return np.ascontiguousarray(bgr[:, :, ::-1])
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot decode image {path}: {error}") from error


def resize_uint8(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """A uint8 ``H×W×3`` image resized by OpenCV's ``cv2.resize`` with ``INTER_LINEAR`` (the authors')."""
    import cv2

    if array.shape[:2] == (height, width):
        return array
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)


def common_size(reference: np.ndarray, generated: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 RGB pair at the common size (see ``size`` in the module docstring)."""
    if size == "reference":
        return reference, resize_uint8(generated, *reference.shape[:2])
    return resize_uint8(reference, size, size), resize_uint8(generated, size, size)


def to_unit_float(array: np.ndarray) -> np.ndarray:
    """uint8 → float32 in [0, 1] (``/ 255``, as the authors)."""
    return array.astype(np.float32) / 255.0


def pixel_scores(ref: np.ndarray, gen: np.ndarray, psnr_cap: float = 100.0, window: int = 7) -> dict:
    """PSNR, SSIM and MSE of two float RGB arrays of one shape in [0, 1] (scikit-image, data range 1)."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    mse = float(mean_squared_error(ref, gen))
    psnr = psnr_cap if mse == 0 else min(psnr_cap, float(peak_signal_noise_ratio(ref, gen, data_range=1.0)))
    side = min(ref.shape[:2])
    win = min(window, side if side % 2 else side - 1)
    ssim = math.nan
    if win >= 3:
        ssim = float(structural_similarity(ref, gen, data_range=1.0, channel_axis=-1, win_size=win))
    return {"psnr": psnr, "ssim": ssim, "mse": mse}


class LpipsScorer:
    """LPIPS distance, loaded once; batches pairs of equal size."""

    @loading("LPIPS")
    def __init__(self, net: str = "alex", pretrained_backbone: bool = True, min_size: int = 64, batch_size: int = 16,
                 device: str = "cpu", seed: int = 0):
        import lpips
        import torch

        from mmpcbench.models import offline_hint

        try:
            with torch.random.fork_rng(devices=[]):  # a random backbone is drawn from ``seed``: reruns agree
                torch.manual_seed(seed)
                self.model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=not pretrained_backbone, verbose=False)
        except Exception as error:
            raise RuntimeError(f"cannot load the LPIPS {net} backbone{offline_hint()}: {error}") from error
        self.model.eval().to(device)
        self.device, self.min_size, self.batch_size = device, min_size, batch_size
        self.label = f"{net}" if pretrained_backbone else f"{net}, random backbone (stand-in)"

    def distances(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        import torch

        out = np.full(len(pairs), np.nan)
        by_shape: dict[tuple, list[int]] = {}
        for i, (ref, _) in enumerate(pairs):
            if min(ref.shape[:2]) >= self.min_size:
                by_shape.setdefault(ref.shape, []).append(i)
        with torch.inference_mode():
            for indices in by_shape.values():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    ref = torch.from_numpy(np.stack([pairs[i][0] for i in chunk])).permute(0, 3, 1, 2)
                    gen = torch.from_numpy(np.stack([pairs[i][1] for i in chunk])).permute(0, 3, 1, 2)
                    d = self.model(ref.to(self.device) * 2 - 1, gen.to(self.device) * 2 - 1)
                    out[chunk] = d.reshape(-1).double().cpu().numpy()
        return out


def encoder_label(spec: dict) -> str:
    """How a table names the image-similarity encoder (its family's ``label``): "CLIP" only when it is one."""
    return resolve(IMAGE_ENCODERS[spec.get("family")].label)(spec)


class ImagePairs:
    """The present pairs of one scoring call that an image metric scores: ``sized``, uint8 RGB
    (reference, generated) at their common size; ``pairs``, the same as float RGB in [0, 1]; ``options``:
    the image options. The pixel scores, the LPIPS model and the CLIP encoder are computed or loaded
    once, on first use; ``keep_features`` (a dict or None) receives CLIP's unnormalised features."""

    def __init__(self, sized, options: dict, lpips_scorer=None, clip_encoder=None, keep_features: dict | None = None):
        self.sized = sized
        self.pairs = [(to_unit_float(r), to_unit_float(g)) for r, g in sized]
        self.options, self.keep_features = options, keep_features
        self._lpips, self._clip, self._pixel = lpips_scorer, clip_encoder, None

    def __len__(self) -> int:
        return len(self.pairs)

    def pixel(self, metric: str) -> np.ndarray:
        """``psnr``, ``ssim`` or ``mse`` per pair (:func:`pixel_scores`, computed once for all three)."""
        if self._pixel is None:
            self._pixel = [pixel_scores(r, g, self.options["psnr_cap"], self.options["ssim_window"]) for r, g in self.pairs]
        return np.array([row[metric] for row in self._pixel], dtype=np.float64)

    @property
    def lpips_scorer(self) -> LpipsScorer:
        if self._lpips is None:
            self._lpips = shared(LpipsScorer, **self.options["lpips"])
        return self._lpips

    @property
    def clip_encoder(self) -> ImageFeatures:
        if self._clip is None:
            self._clip = shared(ImageFeatures, self.options["clip"])
        return self._clip


def psnr(pairs: ImagePairs) -> np.ndarray:
    return pairs.pixel("psnr")


def ssim(pairs: ImagePairs) -> np.ndarray:
    return pairs.pixel("ssim")


def mse(pairs: ImagePairs) -> np.ndarray:
    return pairs.pixel("mse")


def lpips_distance(pairs: ImagePairs) -> np.ndarray:
    return pairs.lpips_scorer.distances(pairs.pairs)


def clip_similarity(pairs: ImagePairs) -> np.ndarray:
    """Cosine of the CLIP (or stand-in) image features of each pair."""
    from PIL import Image

    encoder = pairs.clip_encoder
    a = encoder.pil([Image.fromarray(r) for r, _ in pairs.sized])
    b = encoder.pil([Image.fromarray(g) for _, g in pairs.sized])
    if pairs.keep_features is not None:
        pairs.keep_features.update(reference=a, generated=b)
    return np.sum(_unit(a) * _unit(b), axis=1).astype(np.float64) if len(pairs) else np.zeros(0)


def clip_header(label: str, encoder: str) -> str:
    """The CQBench column of the ``clip`` metric: "CLIP" only when the encoder is one."""
    return f"{'CLIP' if encoder.startswith('CLIP') else 'Image sim.'} ({encoder})"


def image_scores(references, generated, metrics=None, lpips_scorer: LpipsScorer | None = None,
                 clip_encoder: ImageFeatures | None = None, keep_features: dict | None = None,
                 **options) -> pl.DataFrame:
    """Score each generated image against its reference: one column per image metric of
    ``families.METRICS`` (``psnr, ssim, mse, lpips, clip`` and any an extension adds; or the subset
    ``metrics``), one row per pair, in input order; a None generated image gives nulls. ``options``:
    ``size``, ``psnr_cap``, ``ssim_window``, ``lpips`` and ``clip`` (see the module docstring);
    ``lpips_scorer`` and ``clip_encoder`` reuse loaded models; ``keep_features``, a dict, receives the
    unnormalised ``clip`` encoder features of the present pairs (``reference``, ``generated``), for FID."""
    metrics = requested(metrics, tuple(metrics_completing("image")), "image", len(references), len(generated),
                        "generated images")
    options = image_options(options)
    present = np.array([g is not None for g in generated], dtype=bool)
    keep = np.flatnonzero(present)
    sized = [common_size(to_rgb(references[i]), to_rgb(generated[i]), options["size"]) for i in keep]  # uint8, resized first
    scored = ImagePairs(sized, options, lpips_scorer, clip_encoder, keep_features)
    columns = {metric: np.asarray(resolve(METRICS[metric].compute)(scored), dtype=np.float64) for metric in metrics}
    return pair_frame(columns, metrics, present)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)`` of two feature sets (rows), covariances with ddof 1 —
    the formula of pytorch-fid and torchmetrics (a test checks equality with torchmetrics)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((Σa Σb)^½) = Σ √λ over the eigenvalues of Σa Σb (torchmetrics' formulation)
    trace_covmean = np.sqrt(np.linalg.eigvals(sigma_a @ sigma_b).astype(np.complex128)).real.sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_covmean)


class FidAccumulator:
    """FID of a set of pairs, fed in chunks. ``features``: ``inception`` — torchmetrics' Inception-v3
    (torch-fidelity weights, 2048-d pool features) on both images resized to ``size``² as uint8 by
    ``cv2.resize`` (as the authors' 299² PNGs); ``encoder`` — the ``clip`` encoder's features, which image scoring has
    already computed (``update_features``)."""

    @loading("FID features")
    def __init__(self, features: str = "inception", min_pairs: int = 10, size: int = 299, batch_size: int = 32,
                 device: str = "cpu", encoder: ImageFeatures | None = None):
        if features == "inception":
            from torchmetrics.image.fid import NoTrainInceptionV3

            from mmpcbench.models import offline_hint

            try:
                self.inception = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"]).to(device)
            except Exception as error:
                raise RuntimeError(f"cannot load the FID Inception-v3 weights{offline_hint()}: {error}") from error
            self.label = "Inception-v3 pool (2048-d)"
        elif features == "encoder":
            if encoder is None:
                raise ValueError("fid features 'encoder' needs the image encoder")
            self.inception = None
            self.label = encoder_label(encoder.spec)
        else:
            raise ValueError(f"unknown fid features {features!r}; known: ['inception', 'encoder']")
        self.features, self.min_pairs, self.size, self.batch_size, self.device = features, min_pairs, size, batch_size, device
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    @property
    def pairs(self) -> int:
        return sum(len(x) for x in self.real)

    def update_features(self, reference: np.ndarray, generated: np.ndarray) -> None:
        self.real.append(np.asarray(reference, dtype=np.float64))
        self.fake.append(np.asarray(generated, dtype=np.float64))

    def update(self, references, generated) -> None:
        """Add image pairs (only with ``features: inception``; a None generated image is left out)."""
        import torch

        if self.inception is None:
            raise ValueError("fid features 'encoder': pass the encoder features to update_features")
        pairs = [(r, g) for r, g in zip(references, generated) if g is not None]
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            out = []
            for index in (0, 1):
                batch = np.stack([resize_uint8(to_rgb(p[index]), self.size, self.size) for p in chunk])
                x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(self.device)
                with torch.inference_mode():
                    out.append(self.inception(x).reshape(len(chunk), -1).double().cpu().numpy())
            self.update_features(*out)

    def compute(self) -> float | None:
        """The distance (≥ 0: rounding can give −1e-7 for identical sets), or None below ``min_pairs``."""
        if self.pairs < self.min_pairs:
            return None
        value = frechet_distance(np.concatenate(self.real), np.concatenate(self.fake))
        return max(0.0, value) if math.isfinite(value) else None


def fid(references, generated, features: str = "inception", min_pairs: int = 10, size: int = 299, batch_size: int = 32,
        device: str = "cpu", encoder: ImageFeatures | None = None) -> float | None:
    """FID of the pairs (a None generated image is left out); None below ``min_pairs`` pairs."""
    accumulator = FidAccumulator(features, min_pairs, size, batch_size, device, encoder)
    if features == "encoder":
        from PIL import Image

        kept = [common_size(to_rgb(r), to_rgb(g), "reference") for r, g in zip(references, generated) if g is not None]
        accumulator.update_features(encoder.pil([Image.fromarray(r) for r, _ in kept]),
                                    encoder.pil([Image.fromarray(g) for _, g in kept]))
    else:
        accumulator.update(references, generated)
    return accumulator.compute()
