"""Imports every family module so that each registers its models."""
from cnnviz.zoo import (  # noqa: F401
    alexnet,
    custom,
    densenet,
    inception,
    lenet,
    mobile,
    nin,
    resnet,
    simple,
    vgg,
)
from cnnviz.zoo import (  # noqa: F401  after ResNet, in the order they appeared
    mnasnet,
    mobilenetv3,
    efficientnet,
    regnet,
    vit,
    swin,
    convnext,
)
