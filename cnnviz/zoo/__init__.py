"""The architecture zoo: every network of the course, built by name."""
from cnnviz.zoo.registry import ModelSpec, PaperFacts, Setting, build, get_spec, list_models, register

__all__ = ["ModelSpec", "PaperFacts", "Setting", "build", "get_spec", "list_models", "register"]
