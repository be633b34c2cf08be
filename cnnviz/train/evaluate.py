"""How well a trained model does on held-out images: accuracy, loss, confusion matrix, most confident mistakes."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

EVAL_BATCH = 1024
MAX_MISTAKES = 36


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax outputs and the summed cross-entropy per image of ``model`` on ``x``, in eval mode, batched.

    Returns ``(probs (N, K), logits (N, K))``; the model is left in eval mode.
    """
    model.eval()
    logits = []
    for i in range(0, len(x), EVAL_BATCH):
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            logits.append(model(x[i:i + EVAL_BATCH]).float())
    out = torch.cat(logits) if logits else torch.zeros((0, 0), device=x.device)
    return out.softmax(1), out


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (a fraction) on (x, y), in eval mode; one device sync at the end."""
    model.eval()
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for i in range(0, len(x), EVAL_BATCH):
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            out = model(x[i:i + EVAL_BATCH]).float()
        yb = y[i:i + EVAL_BATCH]
        total_loss += F.cross_entropy(out, yb, reduction="sum")
        correct += (out.argmax(1) == yb).sum()
    n = max(1, len(x))
    return total_loss.item() / n, correct.item() / n


def confusion_matrix(true: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> list[list[int]]:
    """(K, K) counts as nested lists: rows = true class, columns = predicted class."""
    flat = true.long().cpu() * num_classes + predicted.long().cpu()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes).tolist()


def evaluate(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], *, num_classes: int | None = None,
             amp: bool = False, max_mistakes: int = MAX_MISTAKES) -> dict[str, Any]:
    """``model`` on ``data = (x, y)`` (on the model's device) as plain JSON-able values.

    ``{"accuracy", "loss", "confusion", "mistakes", "images"}``: accuracy as a fraction, mean
    cross-entropy, the confusion matrix (rows = true class), and up to ``max_mistakes``
    misclassified images as ``{"index", "true", "predicted", "confidence"}``, most confident
    first (the confidence is the softmax probability of the wrong class).
    """
    x, y = data
    probs, logits = probabilities(model, x, amp)
    k = num_classes or probs.shape[1]
    loss = F.cross_entropy(logits, y, reduction="sum").item() / max(1, len(y))
    conf, pred = probs.max(1)
    wrong = torch.nonzero(pred != y).flatten()
    wrong = wrong[conf[wrong].argsort(descending=True)][:max_mistakes].cpu()
    y_cpu, pred_cpu, conf_cpu = y.cpu(), pred.cpu(), conf.cpu()
    return {
        "accuracy": (pred_cpu == y_cpu).float().mean().item() if len(y) else 0.0,
        "loss": loss,
        "confusion": confusion_matrix(y_cpu, pred_cpu, k),
        "mistakes": [{"index": int(i), "true": int(y_cpu[i]), "predicted": int(pred_cpu[i]),
                      "confidence": float(conf_cpu[i])} for i in wrong],
        "images": len(y),
    }
