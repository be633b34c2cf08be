"""Seeing inside a network: one module per view.

``images`` (bundled photos and digits, uploads, preprocessing step by step), ``activations``
(any layer's output by name), ``filters``, ``erf`` (effective receptive field), ``gradcam``
and ``weights`` (random, trained in this app, or torchvision's ImageNet weights).
"""
