"""scikit-build-core metadata plugin: tsbridge's dependencies, with torch
pinned to the release this build compiles against (the torch in the build
environment). LibTorch's C++ ABI is version-bound, so a wheel or a source
install requires exactly that torch, as torchvision's builds do; the CPU and
CUDA builds of one release both satisfy `torch==X.Y.Z`."""

from __future__ import annotations

from typing import Any


def dynamic_metadata(settings: dict[str, Any], project: dict[str, Any]) -> dict[str, list[str]]:
    import torch

    release = torch.__version__.split("+")[0]
    return {"dependencies": [f"torch=={release}", *settings.get("requires", [])]}
