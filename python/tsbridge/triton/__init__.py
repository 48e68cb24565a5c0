"""Triton Inference Server model repositories from tsbridge archives and
packages (docs/serving.md)."""

from .errors import RepositoryExistsError, UnservableError
from .repository import MODEL_FILES, TritonModel, to_triton

__all__ = ["MODEL_FILES", "RepositoryExistsError", "TritonModel", "UnservableError", "to_triton"]
