"""tsbridge.to_triton: a Triton model repository entry,
<repository>/<name>/<version>/model.pt|model.pt2 plus <name>/config.pbtxt."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from ..runtime import load
from . import config as config_, pbtxt, signature
from .errors import RepositoryExistsError

MODEL_FILES = {"torchscript": "model.pt", "aoti": "model.pt2"}  # the names Triton's PyTorch backend looks for
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class TritonModel:
    """What to_triton wrote."""

    directory: str  # <repository>/<name>
    model_file: str  # <repository>/<name>/<version>/model.pt or model.pt2
    config_file: str  # <repository>/<name>/config.pbtxt
    config: dict  # the config, in ModelConfig's field names
    text: str  # config.pbtxt as written
    has_golden: bool  # the copy carries the golden sample: `tsrun --selftest MODEL_FILE` replays it

    def __str__(self) -> str:
        golden = f"; tsrun --selftest {self.model_file} replays its golden sample" if self.has_golden else ""
        return (
            f"wrote {self.model_file} and {self.config_file} "
            f"({self.config['platform']}, max_batch_size {self.config['max_batch_size']}){golden}"
        )


def to_triton(
    model: str | os.PathLike,
    repository: str | os.PathLike,
    *,
    name: str | None = None,
    version: int = 1,
    instances: int = 1,
    kind: str = "cpu",
    max_batch_size: int | None = None,
    dynamic_batching: bool | None = None,
    max_queue_delay_us: int | None = None,
    naming: str = "auto",
    input_specs: list[dict] | None = None,
    replace: bool = False,
    method: str = "forward",
) -> TritonModel:
    """Writes `model` (a tsbridge archive or .pt2 package) into the Triton
    model repository `repository` (created if missing; other models in it are
    left alone) with a config.pbtxt derived from its manifest.

    `max_batch_size` defaults to 8 for a TorchScript model whose dim 0 is one
    batch dim of every input and output, else 0 (full dims; .pt2 packages
    always, Triton's torch_aoti does not batch above 1 yet). `dynamic_batching`
    defaults to on when batching. `kind` is "cpu" or "gpu" (instance_group's
    KIND_CPU / KIND_GPU, `instances` of them). `naming` "ordinal" names every
    tensor INPUT__i / OUTPUT__i (torch_aoti releases before 26.05 read only
    those). A file with no manifest needs `input_specs`, manifest-style dicts
    {"name", "dtype", "shape"} with a str for each dynamic dim. An existing
    model directory of that name is refused unless `replace`.

    Raises tsbridge.triton.UnservableError for what Triton cannot serve,
    RepositoryExistsError, tsbridge.InvalidArgumentError for bad options and
    tsbridge.LoadError for a file that cannot be loaded.
    """
    source = os.fspath(model)
    root = os.fspath(repository)
    name = _model_name(source) if name is None else name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"model name must be letters, digits, '_', '.' or '-' (not starting with '.' or '-'), got {name!r}"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgumentError(f"version must be a positive integer (Triton's version folders), got {version!r}")
    if os.path.exists(root) and not os.path.isdir(root):
        raise InvalidArgumentError(f"repository {root} exists and is not a folder")
    target = os.path.join(root, name)
    if os.path.lexists(target) and not replace:
        raise RepositoryExistsError(f"{target} already exists: pass replace=True (--replace) to overwrite that model")

    runtime = load(source)  # checks the file (and its digests) before anything is written
    config = config_.build(
        signature.read(runtime, input_specs, method),
        name=name,
        max_batch_size=max_batch_size,
        dynamic_batching=dynamic_batching,
        max_queue_delay_us=max_queue_delay_us,
        instances=instances,
        kind=kind,
        naming=naming,
    )
    text = pbtxt.dumps(config)
    file_name = MODEL_FILES[runtime.format]
    has_golden = runtime.manifest is not None and runtime.manifest.golden is not None
    del runtime

    os.makedirs(root, exist_ok=True)
    _write(root, target, source, str(version), file_name, text)
    return TritonModel(
        target,
        os.path.join(target, str(version), file_name),
        os.path.join(target, "config.pbtxt"),
        config,
        text,
        has_golden,
    )


def _model_name(path: str) -> str:
    stem = os.path.basename(path).rpartition(".")[0] or os.path.basename(path)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip(".-") or "model"


def _write(root: str, target: str, source: str, version: str, file_name: str, text: str) -> None:
    """Builds the model folder beside its place and renames it in, so Triton
    (which may poll the repository) never sees half a model."""
    staging = tempfile.mkdtemp(prefix=".tsbridge-", dir=root)
    try:
        os.mkdir(os.path.join(staging, version))
        # Byte for byte: the manifest's digests and the golden sample stay valid.
        shutil.copyfile(source, os.path.join(staging, version, file_name))
        with open(os.path.join(staging, "config.pbtxt"), "w", encoding="utf-8") as f:
            f.write(text)
        if os.path.lexists(target):
            retired = tempfile.mkdtemp(prefix=".tsbridge-old-", dir=root)
            os.rename(target, os.path.join(retired, "model"))
            os.rename(staging, target)
            shutil.rmtree(retired)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
