"""Embedding tsbridge in an app: the installed CMake package (from pip and
from `cmake --install`), the C++ example app, the thread-safety contract and
self-contained public headers. Every native program is built against the
*installed* package, never the source tree, and run with no LD_LIBRARY_PATH."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.utils
from torch import nn

import tsbridge
from models import ConvNet, DictOutput, EncoderModel, LSTMModel, TwoInputsTupleOutput
from native.harness import ROOT, build_env, cmake_dir, generator_args, native_build

pytestmark = pytest.mark.native

PACKAGE_DIR = Path(tsbridge.__file__).resolve().parent
SOURCE_HEADERS = Path(ROOT) / "cpp" / "include" / "tsbridge"
VERSION = tsbridge.__version__


@pytest.fixture(scope="session")
def native(tmp_path_factory):
    return native_build(tmp_path_factory)


def run(args, **kwargs):
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=build_env(), timeout=600, **kwargs
    )


# ── the CMake package from pip ──


def test_cmake_dir_one_liner():
    folder = Path(cmake_dir())
    assert folder == PACKAGE_DIR / "share" / "cmake" / "tsbridge"
    for name in ("tsbridgeConfig.cmake", "tsbridgeConfigVersion.cmake", "tsbridgeTargets.cmake"):
        assert (folder / name).is_file(), name


CONSUMER_CMAKE = """\
cmake_minimum_required(VERSION 3.21)
project(consumer LANGUAGES CXX)
{before}
find_package(tsbridge {version} CONFIG REQUIRED)
message(STATUS "found tsbridge ${{tsbridge_VERSION}} in ${{tsbridge_DIR}} for LibTorch ${{tsbridge_TORCH_VERSION}}")
add_executable(app main.cpp)
target_link_libraries(app PRIVATE tsbridge::tsbridge)
"""

# Cheap to compile (no ATen), yet needs all three things the target must
# bring: tsbridge's headers, LibTorch's include dirs, and C++17 (the consumer
# asks for C++14 itself), then libtsbridge and LibTorch at link and run time.
CONSUMER_MAIN = """\
#if __cplusplus < 201703L
#error "tsbridge::tsbridge must bring C++17"
#endif
#include <cstdio>
#include <optional>
#include <torch/version.h>
#include <tsbridge/c_api.h>
int main() {
  std::optional<const char*> version = tsb_version();
  std::printf("tsbridge %s on LibTorch %s\\n", *version, TORCH_VERSION);
  return 0;
}
"""


def consumer(folder: Path, version: str = "", before: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CMakeLists.txt").write_text(CONSUMER_CMAKE.format(version=version, before=before))
    (folder / "main.cpp").write_text(CONSUMER_MAIN)
    return folder


def configure(source: Path, *args) -> subprocess.CompletedProcess:
    return run(
        [
            "cmake",
            "-S",
            source,
            "-B",
            source / "build",
            *generator_args(),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_CXX_STANDARD=14",
            *args,
        ]
    )


def build_and_run(source: Path) -> str:
    built = run(["cmake", "--build", source / "build"])
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    ran = run([source / "build" / "app"])
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_find_package_from_pip_brings_headers_libtorch_and_cxx17(tmp_path):
    source = consumer(tmp_path / "consumer", version="0.1")
    configured = configure(source, f"-Dtsbridge_DIR={cmake_dir()}")
    assert configured.returncode == 0, configured.stdout[-3000:] + configured.stderr[-3000:]
    assert f"found tsbridge {VERSION} in {cmake_dir()} for LibTorch {torch.__version__.split('+')[0]}" in (
        configured.stdout
    )
    # Runs with no LD_LIBRARY_PATH: the build RPATH holds tsbridge's and LibTorch's lib folders.
    assert build_and_run(source) == f"tsbridge {VERSION} on LibTorch {torch.__version__.split('+')[0]}\n"


@pytest.mark.parametrize("prefix", ["site-packages", "cmake-dir"])
def test_find_package_through_cmake_prefix_path(tmp_path, prefix):
    path = str(PACKAGE_DIR.parent) if prefix == "site-packages" else cmake_dir()
    source = consumer(tmp_path / "consumer")
    configured = configure(source, f"-DCMAKE_PREFIX_PATH={path}")
    assert configured.returncode == 0, configured.stdout[-3000:] + configured.stderr[-3000:]
    assert f"found tsbridge {VERSION} in {cmake_dir()}" in configured.stdout


@pytest.mark.parametrize(
    "request_version, found",
    [("0.1", True), (VERSION, True), ("0.1...<0.2", True), ("0.0.1", False), ("0.2", False), ("9.0", False)],
)
def test_package_version_file(tmp_path, request_version, found):
    source = consumer(tmp_path / "consumer", version=request_version)
    configured = configure(source, f"-Dtsbridge_DIR={cmake_dir()}")
    if found:
        assert configured.returncode == 0, configured.stderr[-3000:]
    else:
        assert configured.returncode != 0
        assert f'compatible with requested version "{request_version}"' in configured.stderr
        assert f"version: {VERSION}" in configured.stderr


def test_another_libtorch_version_is_refused(tmp_path):
    """LibTorch's C++ ABI is version-bound: an app that found a LibTorch of
    another version first gets a clear message, not a crash at run time."""
    before = textwrap.dedent("""\
        # An app that finds Torch itself first: with a CUDA torch and no CUDA
        # toolkit, it asks tsbridge's package how (docs/cpp-api.md).
        include("${tsbridge_DIR}/TorchWithoutCudaToolkit.cmake")
        tsbridge_torch_without_cuda_toolkit()
        find_package(Torch REQUIRED)
        set(Torch_VERSION 1.0.0)  # as if the app had found another LibTorch""")
    source = consumer(tmp_path / "consumer", before=before)
    configured = configure(
        source, f"-Dtsbridge_DIR={cmake_dir()}", f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"
    )
    assert configured.returncode != 0
    message = " ".join(configured.stderr.split())
    assert f"built for torch {torch.__version__.split('+')[0]}, but this project uses LibTorch 1.0.0" in message
    assert "pip install --no-build-isolation" in message


def test_exported_target_names_no_build_paths():
    """The installed package names LibTorch's imported targets, never a file
    of the build machine, and points at tsbridge's own include folder."""
    targets = (Path(cmake_dir()) / "tsbridgeTargets.cmake").read_text()
    interface = re.search(r'INTERFACE_LINK_LIBRARIES "([^"]*)"', targets).group(1)
    assert all(not os.path.isabs(item) for item in interface.split(";")), interface
    includes = re.search(r'INTERFACE_INCLUDE_DIRECTORIES "([^"]*)"', targets).group(1)
    assert includes == "${_IMPORT_PREFIX}/tsbridge/include"


# ── the CMake package from `cmake --install` of a standalone build ──


def test_cmake_install_of_a_standalone_build_provides_the_package(tmp_path):
    build, prefix = tmp_path / "build", tmp_path / "prefix"
    configured = run(
        [
            "cmake",
            "-S",
            ROOT,
            "-B",
            build,
            *generator_args(),
            # no optimizer: this test is about the install layout, and -O0 builds faster
            "-DCMAKE_BUILD_TYPE=Check",
            "-DCMAKE_CXX_FLAGS_CHECK=-O0",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DCMAKE_INSTALL_PREFIX={prefix}",
        ]
    )
    assert configured.returncode == 0, configured.stdout[-3000:] + configured.stderr[-3000:]
    built = run(["cmake", "--build", build, "--parallel", "2"])
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    installed = run(["cmake", "--install", build])
    assert installed.returncode == 0, installed.stderr

    package = prefix / "lib" / "cmake" / "tsbridge"
    for name in ("tsbridgeConfig.cmake", "tsbridgeConfigVersion.cmake", "tsbridgeTargets.cmake"):
        assert (package / name).is_file(), name
    assert sorted(p.name for p in (prefix / "include" / "tsbridge").glob("*.h")) == sorted(public_headers())
    assert run([prefix / "bin" / "tsrun", "--help"]).returncode == 0

    source = consumer(tmp_path / "consumer", version="0.1")
    configured = configure(source, f"-DCMAKE_PREFIX_PATH={prefix}")
    assert configured.returncode == 0, configured.stdout[-3000:] + configured.stderr[-3000:]
    assert f"found tsbridge {VERSION} in {package}" in configured.stdout
    assert build_and_run(source).startswith(f"tsbridge {VERSION} on LibTorch")


# ── examples/cpp_app: a classifier on a thread pool sharing one Model ──

LABELS = ["tabby cat", "dog", 'say "cheese"', "café au lait", "\U0001f41f fish", "back\\slash", "horse"]


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, len(LABELS)))

    def forward(self, x):
        return self.body(x)


def parse_classify(stdout: str) -> list:
    """[[(label, score), ...] per sample], in sample order."""
    samples = []
    for n, line in enumerate(stdout.splitlines()):
        head, _, rest = line.partition(": ")
        assert head == f"sample {n}", line
        samples.append([(label, float(score)) for label, score in (p.rsplit(" ", 1) for p in rest.split(", "))])
    return samples


def expected_top_k(model, x, k):
    with torch.no_grad():
        scores, classes = torch.softmax(model(x), dim=1).topk(k, dim=1)
    return scores, classes


@pytest.fixture
def classifier_archive(tmp_path):
    model = Classifier().eval()
    path = tmp_path / "classifier.pt"
    # A decoy "labels" nested before the real one: only the top level counts.
    tsbridge.export(
        model,
        torch.randn(4, 12),
        path,
        input_names=["features"],
        metadata={"nested": {"labels": ["decoy"]}, "labels": LABELS, "version": 3},
    )
    return path, model


@pytest.mark.parametrize(
    "threads, chunk, k, rows, extra",
    [(4, 5, 3, 37, []), (8, 1, 7, 11, ["--intra-op-threads", 1]), (1, 64, 2, 20, []), (3, 4, 10, 9, [])],
)
def test_classify_example_agrees_with_pytorch(native, classifier_archive, tmp_path, threads, chunk, k, rows, extra):
    path, model = classifier_archive
    x = torch.randn(rows, 12)
    batch = tmp_path / "batch.npy"
    np.save(batch, x.numpy())
    result = run(
        [
            native.program("cpp_app", "classify"),
            path,
            batch,
            "--threads",
            threads,
            "--chunk",
            chunk,
            "--top-k",
            k,
            *extra,
        ]
    )
    assert result.returncode == 0, result.stderr
    printed = parse_classify(result.stdout)
    scores, classes = expected_top_k(model, x, min(k, len(LABELS)))
    assert len(printed) == rows
    for sample, top in enumerate(printed):
        assert [label for label, _ in top] == [LABELS[c] for c in classes[sample].tolist()]
        assert [score for _, score in top] == pytest.approx(scores[sample].tolist(), abs=2e-6)
    assert f"{rows} samples on {threads} threads" in result.stderr


def test_classify_converts_a_float64_batch(native, classifier_archive, tmp_path):
    """numpy saves float64 by default; the app converts to what the model declares."""
    path, model = classifier_archive
    x = torch.randn(6, 12, dtype=torch.float64)
    np.save(tmp_path / "batch.npy", x.numpy())
    result = run([native.program("cpp_app", "classify"), path, tmp_path / "batch.npy", "--top-k", 1])
    assert result.returncode == 0, result.stderr
    _, classes = expected_top_k(model, x.float(), 1)
    assert [top[0][0] for top in parse_classify(result.stdout)] == [LABELS[c] for c in classes[:, 0].tolist()]


def test_classify_without_labels_prints_class_indices(native, tmp_path):
    model = nn.Linear(5, 4).eval()
    path = tmp_path / "plain.pt"
    tsbridge.export(model, torch.randn(2, 5), path)
    x = torch.randn(3, 5)
    np.save(tmp_path / "batch.npy", x.numpy())
    result = run([native.program("cpp_app", "classify"), path, tmp_path / "batch.npy", "--top-k", 2])
    assert result.returncode == 0, result.stderr
    assert 'no "labels"' in result.stderr
    _, classes = expected_top_k(model, x, 2)
    for sample, top in enumerate(parse_classify(result.stdout)):
        assert [label for label, _ in top] == [f"class {c}" for c in classes[sample].tolist()]


def test_classify_reports_errors_in_one_line(native, classifier_archive, tmp_path):
    path, _ = classifier_archive
    app = native.program("cpp_app", "classify")
    np.save(tmp_path / "wrong.npy", np.zeros((3, 11), dtype=np.float32))
    wrong = run([app, path, tmp_path / "wrong.npy", "--threads", 4, "--chunk", 1])
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "expected float32[batch,12], got float32[1,11]" in wrong.stderr
    assert "(InputMismatch)" in wrong.stderr
    missing = run([app, path, tmp_path / "missing.npy"])
    assert missing.returncode == 2 and "missing.npy" in missing.stderr
    usage = run([app, path])
    assert usage.returncode == 64 and "usage: classify" in usage.stderr


@pytest.mark.parametrize("labels", ["cat", [1, 2], {"a": "b"}])
def test_classify_refuses_labels_that_are_not_strings(native, tmp_path, labels):
    path = tmp_path / "odd.pt"
    tsbridge.export(nn.Linear(3, 2).eval(), torch.randn(2, 3), path, metadata={"labels": labels})
    np.save(tmp_path / "batch.npy", np.zeros((2, 3), dtype=np.float32))
    result = run([native.program("cpp_app", "classify"), path, tmp_path / "batch.npy"])
    assert result.returncode == 2  # a tsbridge::Error, reported with its code
    kind = {str: "a string", list: "an array", dict: "an object"}[type(labels)]
    assert result.stderr.startswith(f"classify: metadata 'labels' is {kind}, not an array of strings")


def test_example_builds_only_from_the_package():
    """The example's CMakeLists.txt names no path and no LibTorch: only
    find_package(tsbridge) (and the system's Threads)."""
    text = (Path(ROOT) / "examples" / "cpp_app" / "CMakeLists.txt").read_text()
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert re.findall(r"find_package\((\w+)", code) == ["tsbridge", "Threads"]
    assert "Torch" not in code and "include_directories" not in code and ".." not in code


def test_the_cpp_api_page_example_runs(native, classifier_archive, tmp_path):
    """docs/cpp-api.md's complete program, as the page shows it."""
    path, model = classifier_archive
    x = torch.randn(5, 12)
    np.save(tmp_path / "batch.npy", x.numpy())
    result = run([native.program("docs_cpp_example"), path, tmp_path / "batch.npy"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "input features: float32[batch,12]"
    assert json.loads(lines[1][len("metadata ") :])["labels"] == LABELS
    with torch.no_grad():
        scores, classes = torch.softmax(model(x), dim=1).max(dim=1)
    pairs = enumerate(zip(scores.tolist(), classes.tolist(), strict=True))
    assert lines[2:] == [f"sample {i}: class {c} ({s:.3f})" for i, (s, c) in pairs]
    wrong = run([native.program("docs_cpp_example"), path, path])
    assert wrong.returncode == 1 and "(InvalidInputFile)" in wrong.stderr


# ── the thread-safety contract (docs/cpp-api.md) ──


def dynamic_all(names, dims):
    return {name: {d: f"d{d}" for d in dims} for name in names}


THREAD_MODELS = {
    "convnet": lambda: (ConvNet(), (torch.randn(2, 3, 8, 8),), {}),
    "encoder": lambda: (EncoderModel(), (torch.randn(2, 5, 32),), dict(dynamic_dims=dynamic_all(["x"], [0, 1]))),
    "lstm": lambda: (LSTMModel(), (torch.randn(2, 5, 6),), dict(dynamic_dims=dynamic_all(["x"], [0, 1]))),
    "two_inputs_tuple": lambda: (TwoInputsTupleOutput(), (torch.randn(3, 4), torch.randn(3, 4)), {}),
    "dict_output": lambda: (DictOutput(), (torch.randn(3, 6),), {}),
}


# LibTorch runs each call's ops on an OpenMP team of its own (intra-op
# threads): 8 calling threads each with a team oversubscribe 2 cores, and
# OpenMP's spin-waits then cost seconds per model. One intra-op thread keeps
# the test fast; the convnet also runs with LibTorch's default teams.
THREAD_CASES = [(name, "1") for name in sorted(THREAD_MODELS)] + [("convnet", "default")]


@pytest.mark.parametrize("name, intra_op", THREAD_CASES)
def test_one_model_shared_by_8_threads_matches_serial_calls(native, tmp_path, name, intra_op):
    model, examples, options = THREAD_MODELS[name]()
    path = tmp_path / f"{name}.pt"
    names = ["x"] if len(examples) == 1 else [f"x{i}" for i in range(len(examples))]
    tsbridge.export(model.eval(), examples, path, input_names=names, **options)
    env = build_env()
    if intra_op == "default":
        env.pop("OMP_NUM_THREADS", None)
    else:
        env["OMP_NUM_THREADS"] = intra_op
    result = subprocess.run(
        [native.program("thread_safety"), str(path), "8", "200"], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("threads=8 calls=1600 mismatches=0 errors=0")


# ── public headers: self-contained, no Python ──


def public_headers() -> list:
    return sorted([p.name for p in SOURCE_HEADERS.glob("*.h")] + ["version.h"])


def test_installed_headers_are_the_public_ones():
    installed = PACKAGE_DIR / "include" / "tsbridge"
    assert sorted(p.name for p in installed.glob("*.h")) == public_headers()
    for source in SOURCE_HEADERS.glob("*.h"):
        assert (installed / source.name).read_text() == source.read_text(), f"{source.name} is stale in the install"


def test_each_public_header_compiles_alone(native):
    """tests/native/CMakeLists.txt compiles one translation unit per installed
    header (included twice, for its guard) with only tsbridge::tsbridge."""
    include, names = (native.dir / "headers.txt").read_text().splitlines()[:2]
    assert Path(include) == PACKAGE_DIR / "include"
    assert sorted(names.split(";")) == public_headers()
    objects = native.dir / "CMakeFiles" / "header_checks.dir" / "headers"
    for header in public_headers():
        assert (objects / (header.replace(".", "_") + ".cpp.o")).is_file(), header


C_USE_OF_EVERY_DECLARATION = """\
#include <tsbridge/c_api.h>
#include <tsbridge/c_api.h>
int main(void) {
  tsb_model* model = 0;
  tsb_outputs* outputs = 0;
  tsb_load_options options = {0, 0, 0, 0, 0, 0, 0};
  tsb_tensor tensor = {0, TSB_FLOAT32, 0, 0};
  tsb_spec spec;
  int32_t count;
  const char* text;
  (void)tsb_version(); (void)tsb_status_name(TSB_OK); (void)tsb_last_error();
  (void)tsb_dtype_size(TSB_INT64); (void)tsb_dtype_name(TSB_BOOL);
  (void)tsb_model_load("m.pt", &options, &model);
  (void)tsb_model_input_count(model, &count); (void)tsb_model_input(model, 0, &spec);
  (void)tsb_model_output_count(model, &count); (void)tsb_model_output(model, 0, &spec);
  (void)tsb_model_metadata(model, &text);
  (void)tsb_model_method_count(model, &count); (void)tsb_model_method_name(model, 0, &text);
  (void)tsb_model_run(model, 0, &tensor, 1, &outputs);
  (void)tsb_outputs_count(outputs, &count); (void)tsb_outputs_get(outputs, 0, &text, &tensor);
  (void)tsb_outputs_free(outputs); (void)tsb_model_free(model);
  return 0;
}
"""


@pytest.mark.parametrize(
    "compiler, language, standard",
    [("cc", "c", "c99"), ("cc", "c", "c11"), ("c++", "c++", "c++11"), ("c++", "c++", "c++17")],
)
def test_c_header_compiles_as_c_and_cpp(tmp_path, compiler, language, standard):
    source = tmp_path / "use.c"
    source.write_text(C_USE_OF_EVERY_DECLARATION)
    result = run(
        [
            compiler,
            "-x",
            language,
            f"-std={standard}",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            "-fsyntax-only",
            f"-I{PACKAGE_DIR / 'include'}",
            source,
        ]
    )
    assert result.returncode == 0, result.stderr


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)
FORBIDDEN = re.compile(
    r"(^|/)Python\.h$|^pybind11/|^nlohmann/|^torch/extension\.h$|^torch/python\.h$|"
    r"^torch/csrc/(utils|autograd/python|python)|^zip\.h$"
)


@pytest.mark.parametrize("folder", ["source", "installed"])
def test_headers_include_no_python_json_or_private_headers(folder):
    root = SOURCE_HEADERS if folder == "source" else PACKAGE_DIR / "include" / "tsbridge"
    headers = list(root.glob("*.h")) + ([root / "version.h.in"] if folder == "source" else [])
    assert headers
    for header in headers:
        for quote, included in INCLUDE.findall(header.read_text()):
            assert not FORBIDDEN.search(included), f"{header.name} includes {included}"
            if included.startswith("tsbridge/") or quote == '"':
                assert included.startswith("tsbridge/"), f"{header.name}: {included} is not a public header path"
                assert included.split("/", 1)[1] in public_headers(), f"{header.name} includes private {included}"
