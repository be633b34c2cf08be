"""The architecture zoo: every network of the course, built by name."""
from cnnviz.zoo.registry import ModelSpec, PaperFacts, Setting, build, get_spec, list_models, register
from cnnviz.zoo import families  # noqa: E402,F401  importing the family modules fills the registry (after it exists)

__all__ = ["ModelSpec", "PaperFacts", "Setting", "build", "get_spec", "list_models", "register"]
