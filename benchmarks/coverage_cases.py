"""The models the coverage table tries: tsbridge's test zoo (tests/models.py)
and the classic architectures of torchvision and timm, random weights
(weights=None / pretrained=False), the smallest variant of each family, at
small inputs where the architecture allows, batch 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

BATCH = 2


@dataclass
class Case:
    name: str
    source: str  # "tests/models.py", "torchvision", "timm"
    build: Callable[[], tuple[torch.nn.Module, tuple, dict | None]]  # model, example inputs, dynamic dims


def _zoo(factory: str, *shapes, dims: dict | None = None, extra: tuple = ()):
    def build():
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
        import models

        torch.manual_seed(0)
        examples = tuple(torch.randn(BATCH, *s) for s in shapes) + extra
        names = ["x", "y"][: len(shapes)] if factory != "TwoInputsTupleOutput" else ["a", "b"]
        batch = {n: {0: "batch"} for n in names} if dims is None else dims
        return getattr(models, factory)(), examples, batch

    return build


def _tiny_bert():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    import models

    torch.manual_seed(0)
    return models.TinyBert(), (torch.randint(0, 100, (BATCH, 16)),), {"ids": {0: "batch", 1: "seq"}}


def _dict_input():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    import models

    torch.manual_seed(0)
    inputs = {"image": torch.randn(BATCH, 5), "text": torch.randn(BATCH, 7), "weight": torch.randn(BATCH, 1)}
    return models.DictInput(), (inputs,), None


def _torchvision(factory: str, size: int = 64, **kwargs):
    def build():
        from .torchvision_cpu import import_torchvision

        torch.manual_seed(0)
        model = getattr(import_torchvision().models, factory)(weights=None, **kwargs)
        return model, (torch.randn(BATCH, 3, size, size),), {"x": {0: "batch"}}

    return build


def _timm(factory: str, size: int = 64, **kwargs):
    def build():
        from .torchvision_cpu import import_torchvision

        import_torchvision()  # timm imports torchvision
        import timm

        torch.manual_seed(0)
        model = timm.create_model(factory, pretrained=False, **kwargs)
        return model, (torch.randn(BATCH, 3, size, size),), {"x": {0: "batch"}}

    return build


ZOO = [
    Case("SimpleModel", "tests/models.py", _zoo("SimpleModel", (10,))),
    Case("MLP", "tests/models.py", _zoo("MLP", (16,))),
    Case("ConvNet", "tests/models.py", _zoo("ConvNet", (3, 8, 8))),
    Case("LSTMModel", "tests/models.py", _zoo("LSTMModel", (7, 6), dims={"x": {0: "batch", 1: "seq"}})),
    Case("EncoderModel", "tests/models.py", _zoo("EncoderModel", (5, 32), dims={"x": {0: "batch", 1: "seq"}})),
    Case("TinyBert", "tests/models.py", _tiny_bert),
    Case("TwoInputsTupleOutput", "tests/models.py", _zoo("TwoInputsTupleOutput", (4,), (4,), dims={})),
    Case("DictOutput", "tests/models.py", _zoo("DictOutput", (6,))),
    Case("DictInput", "tests/models.py", _dict_input),
    Case("ControlFlow", "tests/models.py", _zoo("ControlFlow", (4,))),
    Case("ScalarArgs", "tests/models.py", _zoo("ScalarArgs", (3, 4), dims={}, extra=(2, 0.5, True, [1]))),
    Case("Pair", "tests/models.py", _zoo("Pair", (8,), (8,))),
]

# Inputs of 64x64 except where the architecture needs more: inception_v3's
# stem needs 75 and more; torchvision's ViT and timm's ViT/DeiT are built for
# the size asked (image_size / img_size).
TORCHVISION = [
    Case(f"torchvision {name}", "torchvision", _torchvision(name, **kwargs))
    for name, kwargs in [
        ("resnet18", {}),
        ("mobilenet_v2", {}),
        ("mobilenet_v3_small", {}),
        ("efficientnet_b0", {}),
        ("densenet121", {}),
        ("squeezenet1_1", {}),
        ("shufflenet_v2_x0_5", {}),
        ("mnasnet0_5", {}),
        ("regnet_y_400mf", {}),
        ("googlenet", {"aux_logits": False, "init_weights": True}),
        ("inception_v3", {"size": 96, "aux_logits": False, "init_weights": True}),
        ("alexnet", {}),
        ("vgg11", {}),
        ("convnext_tiny", {}),
        ("vit_b_16", {"image_size": 64}),
        ("swin_t", {}),
    ]
]

TIMM = [
    Case(f"timm {name}", "timm", _timm(name, **kwargs))
    for name, kwargs in [
        ("resnet18", {}),
        ("mobilenetv3_small_050", {}),
        ("efficientnet_b0", {}),
        ("convnext_atto", {}),
        ("vit_tiny_patch16_224", {"img_size": 64}),
        ("deit_tiny_patch16_224", {"img_size": 64}),
    ]
]

CASES = {case.name: case for case in ZOO + TORCHVISION + TIMM}
