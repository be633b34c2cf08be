"""Gradient norm per layer: vanishing (and exploding) gradients made visible."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv and fully connected layers, input first (execution order of a chain)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad]


def current_norms(layers: list[tuple[str, nn.Module]]) -> list[float]:
    """L2 norm of each layer's weight gradient as it is now (0 where there is none); one device sync."""
    grads = [m.weight.grad for _, m in layers]
    zero = torch.zeros((), device=layers[0][1].weight.device) if layers else torch.zeros(())
    norms = torch.stack([g.detach().float().norm() if g is not None else zero for g in grads]) if grads else zero[None]
    return norms.cpu().tolist()


def gradient_norms(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> list[tuple[str, float]]:
    """Per conv / linear layer, the L2 norm of dLoss/dWeight for one batch (cross-entropy, train mode).

    The model's weights, buffers (batch norm statistics), mode and gradients are left as they were.
    """
    x, y = batch
    layers = weighted_layers(model)
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.grad for p in params]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    was_training = model.training
    model.train()
    try:
        for p in params:
            p.grad = None
        F.cross_entropy(model(x), y).backward()
        norms = current_norms(layers)
    finally:
        for p, g in zip(params, saved):
            p.grad = g
        with torch.no_grad():
            for b, old in buffers:
                b.copy_(old)
        model.train(was_training)
    return [(name, n) for (name, _), n in zip(layers, norms)]
