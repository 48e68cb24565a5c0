# Types of tsbridge._core, the pybind11 module over libtsbridge.
# tests/test_stub.py keeps this file in step with the compiled module: the
# same names, members and parameter names.
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import torch

_Path = str | PathLike[str]

class TensorSpec:
    def __init__(
        self, name: str, dtype: str | None = None, shape: Sequence[int | str] | None = None, type: str = "Tensor"
    ) -> None: ...
    name: str
    type: str
    dtype: str | None
    shape: list[int | str] | None
    path: list[int | str]
    is_tensor: bool

class DimRange:
    min: int
    max: int | None

class GoldenSample:
    entry: str
    rtol: float
    atol: float
    encoding: str

class IntegrityRecord:
    algorithm: str
    entries: dict[str, str]

class CpuRequirements:
    target: str
    arch: str
    features: list[str]
    vec_isa: str

class RuntimeSettings:
    threads: int
    optimize_graph: bool
    profiling_executor: bool | None
    onednn_fusion: bool
    runners: int

class MachineInfo:
    arch: str
    cpu_model: str
    cores: int
    features: list[str]
    def matches(self, other: MachineInfo) -> bool: ...

class TuningCandidate:
    name: str
    format: str
    build: str
    settings: RuntimeSettings
    us_per_call: float
    spread: float
    status: str

class TuningRecord:
    candidates: list[TuningCandidate]
    winner_index: int
    settings: RuntimeSettings
    reason: str
    noise: float
    rounds: int
    machine: MachineInfo
    measured_at: str
    def json(self) -> str: ...

class AppliedTuning:
    source: str
    recorded: RuntimeSettings
    applied: RuntimeSettings
    notes: list[str]

class AotiRecord:
    compile_seconds: float | None
    inductor_configs: dict[str, Any]
    build: str
    prepacked: bool | None

class FormatSelection:
    chosen: str
    median_us: dict[str, float]
    rounds: int | None

class OutputError:
    output: str
    max_abs_error: float | None
    max_rel_error: float | None

class PrecisionCheck:
    name: str
    outputs: list[OutputError]

class PrecisionRecord:
    compute: str
    rtol: float
    atol: float
    checks: list[PrecisionCheck]
    cpu_features: list[str]

class MigratedFrom:
    file: str
    sha256: str
    converter: str
    capture: str
    tsbridge_version: str | None
    torch_version: str | None

class Manifest:
    format_version: int
    tsbridge_version: str
    torch_version: str
    capture: str
    frozen: bool
    layout: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    dims: dict[str, DimRange]
    metadata_json: str
    metadata: dict[str, Any]
    golden: GoldenSample | None
    integrity: IntegrityRecord | None
    cpu: CpuRequirements | None
    parallel_loops: str
    device: str
    tuning: TuningRecord | None
    format: str
    aoti: AotiRecord | None
    selection: FormatSelection | None
    migrated_from: MigratedFrom | None
    precision: PrecisionRecord | None
    json: str
    document: dict[str, Any]
    @staticmethod
    def parse(json_text: str) -> Manifest: ...

class OutputCheck:
    name: str
    passed: bool
    max_abs_error: float
    max_rel_error: float
    problem: str

class Comparison:
    passed: bool
    max_abs_error: float
    max_rel_error: float
    outputs: list[OutputCheck]

class SelfTestReport(Comparison):
    rtol: float
    atol: float

class IntegrityReport:
    recorded: bool
    algorithm: str
    checked: int
    problems: list[str]
    intact: bool

class GoldenValues:
    inputs: tuple[Any, ...]
    outputs: Any

class ModelStats:
    parameters: int
    parameter_bytes: int

class WarmUp:
    calls: int
    seconds: float

class BenchmarkResult:
    first_call_ms: float
    latencies_ms: list[float]
    total_seconds: float
    def calls_per_second(self) -> float: ...
    def min_ms(self) -> float: ...
    def max_ms(self) -> float: ...
    def mean_ms(self) -> float: ...
    def stddev_ms(self) -> float: ...
    def percentile_ms(self, p: float) -> float: ...

class Model:
    @staticmethod
    def load(
        path: str,
        device: str = "cpu",
        verify_integrity: bool = True,
        warmup_calls: int = 0,
        optimize_graph: bool = False,
        pack_convolutions: bool = True,
        runners: int | None = None,
        apply_tuning: bool = True,
    ) -> Model: ...
    path: str
    device: str
    format: str
    methods: list[str]
    outputs: list[TensorSpec]
    manifest: Manifest | None
    load_warm_up: WarmUp
    runners: int
    tuning: AppliedTuning
    def forward(self, *args: Any) -> Any: ...
    def run(self, method: str, *args: Any) -> Any: ...
    def check_inputs(self, method: str, inputs: list[Any] | tuple[Any, ...]) -> None: ...
    def output_leaves(self, method: str, result: Any) -> list[tuple[str, Any]]: ...
    def has_method(self, method: str) -> bool: ...
    def inputs(self, method: str = "forward") -> list[TensorSpec]: ...
    def extra_file(self, name: str) -> bytes | None: ...
    def warm_up(self, *args: Any, calls: int = 1) -> WarmUp: ...
    def self_test(self) -> SelfTestReport: ...
    def stats(self) -> ModelStats: ...
    def code(self, method: str = "forward") -> str: ...

class NpyStreamWriter:
    def __init__(self, path: _Path, rows: int) -> None: ...
    def append(self, batch: torch.Tensor) -> None: ...
    def finish(self) -> None: ...
    def __enter__(self) -> NpyStreamWriter: ...
    def __exit__(self, arg0: object, arg1: object, arg2: object) -> None: ...

class BuildFeature:
    name: str
    available: bool
    detail: str

def build_features() -> list[BuildFeature]: ...
def cpu_features() -> list[str]: ...
def known_cpu_features() -> list[str]: ...
def features_text(features: Sequence[BuildFeature]) -> str: ...
def check_integrity(path: str) -> IntegrityReport: ...
def compare_results(expected: Any, got: Any, rtol: float = 1e-05, atol: float = 1e-05) -> Comparison: ...
def read_golden_sample(model: Model) -> GoldenValues: ...
def make_inputs(
    specs: Sequence[TensorSpec],
    seed: int = 0,
    shapes: Mapping[str, Sequence[int]] = {},
    dtypes: Mapping[str, str] = {},
    device: str = "cpu",
) -> list[Any]: ...
def parse_input_spec(text: str, allow_dynamic: bool = True) -> TensorSpec: ...
def parse_shape(text: str) -> list[int]: ...
def named_dtypes() -> list[tuple[str, torch.dtype]]: ...
def read_tensor(path: _Path) -> torch.Tensor: ...
def read_npz(path: _Path) -> list[tuple[str, torch.Tensor]]: ...
def map_npy(path: _Path) -> torch.Tensor: ...
def write_npy(path: _Path, tensor: torch.Tensor) -> None: ...
def write_npz(path: _Path, arrays: Mapping[str, torch.Tensor] | Sequence[tuple[str, torch.Tensor]]) -> None: ...
def set_threads(intra_op: int = 0, inter_op: int = 0) -> None: ...
def set_executor(profiling_executor: bool | None = None, onednn_fusion: bool | None = None) -> None: ...
def tune(
    files: Sequence[tuple[str, str]],
    budget_seconds: float = 60.0,
    threads: Sequence[int] = ...,
    noise: float = 0.05,
    rounds: int = 5,
    clients: int = 1,
    search_settings: bool = True,
) -> TuningRecord: ...
def tune_runtime(
    path: str,
    budget_seconds: float = 60.0,
    threads: Sequence[int] = ...,
    noise: float = 0.05,
    rounds: int = 5,
    clients: int = 1,
) -> TuningRecord: ...
def this_machine() -> MachineInfo: ...
def sidecar_path(archive_path: str) -> str: ...
def parse_tuning(json_text: str) -> TuningRecord: ...
def benchmark(
    model: Model,
    inputs: Any,
    method: str = "forward",
    untimed_calls: int = 10,
    iterations: int = 100,
    duration_seconds: float = 0.0,
    clients: int = 1,
) -> BenchmarkResult: ...
