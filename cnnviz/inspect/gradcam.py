"""Grad-CAM (Selvaraju et al., ICCV 2017): where a trained network looks for its prediction.

The maps ``A_k`` of a late convolutional layer are weighted by the average gradient of
the class score over each map, ``alpha_k = mean_ij d y_c / d A_k[i, j]``; the class
activation map is ``ReLU(sum_k alpha_k A_k)``, upsampled to the input. Written here in a
few lines with hooks: the ``grad-cam`` package would pull in OpenCV and matplotlib.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.analysis.report import Report
from cnnviz.inspect.activations import check_budget, evaluating, hooked, resolve, spatial_layers


@dataclass(frozen=True)
class CAM:
    """A class activation map at input resolution (>= 0, peak 1 unless all zero) and its class."""

    heatmap: np.ndarray  # (H, W)
    coarse: np.ndarray  # (h, w) at the layer's resolution, before upsampling
    target: int
    score: float


def default_layer(model: nn.Module, report: Report) -> str:
    """The last hookable layer with a spatial map larger than 1x1: Grad-CAM's usual choice."""
    names = [n for n in spatial_layers(model, report)
             if report.row(n).output_shape[1] * report.row(n).output_shape[2] > 1]
    if not names:
        raise ConfigError(f"{report.model} has no spatial layer for Grad-CAM")
    return names[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, report: Report, layer: str | None = None,
             target: int | None = None) -> CAM:
    """Grad-CAM of class ``target`` (default: the predicted class) at ``layer`` for one image ``x``."""
    layer = layer or default_layer(model, report)
    if not report.row(layer).spatial:
        raise ConfigError(f"Grad-CAM needs a layer with a spatial map; {layer} has shape {report.row(layer).output_shape}")
    check_budget(report, backward=True)
    ref = resolve(model, report, layer)
    with evaluating(model), torch.enable_grad(), hooked(model, [ref], keep_graph=True, stop=False) as captured:
        logits = model(x.detach())
    if logits.dim() != 2:
        raise ConfigError(f"the model's output has shape {tuple(logits.shape)}, not (1, classes)")
    target = int(logits[0].argmax()) if target is None else target
    if not 0 <= target < logits.shape[1]:
        raise ConfigError(f"class {target} is not one of the model's {logits.shape[1]} classes")
    acts = captured[layer]
    (grads,) = torch.autograd.grad(logits[0, target], acts)
    weights = grads[0].mean(dim=(1, 2))
    coarse = F.relu((weights[:, None, None] * acts[0]).sum(0)).detach()
    up = F.interpolate(coarse[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = float(up.max())
    heat = (up / peak if peak > 0 else up).numpy()
    return CAM(heat, coarse.numpy(), target, float(logits[0, target].detach()))
