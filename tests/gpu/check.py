"""The GPU path end to end, on a machine with a CUDA device (a few minutes):
a small CNN exported as a TorchScript archive and as a .pt2 compiled for
CUDA, each loaded on the GPU and run from Python (tsbridge.load), from C++
(tsrun) and from C (the C API), on inputs given on the CPU and on the GPU;
every output compared with eager PyTorch on the GPU, the golden sample
replayed there, outputs written to files and read back, and tsrun --bench
against eager timed the same way.

    python tests/gpu/check.py [--keep DIR]

Assumes `import tsbridge` works (built against this torch) and tsrun is on
PATH or in this Python's scripts folder. Prints one PASS/FAIL line per
check; exits 0 when all passed, 1 when any failed, 77 when there is no CUDA
device (skipped: the CPU suite covers that case, tests/test_device.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch._inductor.config  # PACKAGE_TARGET below

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/models.py
from models import ConvNet  # noqa: E402

SKIPPED = 77
# GPU kernels sum in other orders than eager's (Inductor fuses; freezing folds
# BatchNorm into the conv), and cuDNN convolutions may use TF32, LibTorch's
# default in C++ as in Python: 1e-3 holds these, a wrong result is far off.
TOLERANCE = {"rtol": 1e-3, "atol": 1e-3}
BATCH, OTHER_BATCH = 8, 3  # the example's batch, and another (batch is dynamic)
BENCH_ITERS = 300
# A torch older than tsbridge's range (a machine's preinstalled one) has no
# Inductor cpp.march: the package's host code is then built for this CPU.
PACKAGE_TARGET = None if hasattr(torch._inductor.config.cpp, "march") else "native"


class Checks:
    """Runs named checks, printing PASS or FAIL (with the reason) for each."""

    def __init__(self):
        self.failed: list[str] = []
        self.passed = 0

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        except Exception as error:  # a check's failure is reported, the rest still run
            self.failed.append(name)
            reason = str(error).strip().splitlines()[0][:500] if str(error).strip() else type(error).__name__
            print(f"FAIL  {name}: {type(error).__name__}: {reason}", flush=True)
            if os.environ.get("TSBRIDGE_CHECK_TRACEBACK"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"PASS  {name} ({time.perf_counter() - started:.1f} s)", flush=True)


def tsrun_path() -> str:
    found = shutil.which("tsrun") or os.path.join(sysconfig.get_path("scripts"), "tsrun")
    if not os.path.exists(found):
        raise SystemExit(f"tsrun not found on PATH or in {sysconfig.get_path('scripts')}: install tsbridge first")
    return found


def run(args: list, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
    if result.returncode != expect:
        raise AssertionError(f"{' '.join(map(str, args))} exited {result.returncode}: {result.stderr.strip()[:400]}")
    return result


def close(got, expected, what: str) -> None:
    torch.testing.assert_close(got, expected, **TOLERANCE, msg=lambda m: f"{what}: {m}")


def manifest_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/tsbridge/manifest.json"))
        return json.loads(archive.read(name))


def describe_machine(tsrun: str) -> None:
    import tsbridge

    print(f"python   {platform.python_version()} ({sys.executable})")
    print(f"torch    {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})")
    print(f"tsbridge {tsbridge.__version__} ({os.path.dirname(tsbridge.__file__)})")
    print(f"tsrun    {tsrun}")
    for line in run([tsrun, "--version"]).stdout.strip().splitlines():
        print(f"         {line}")
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(f"cuda:{i}   {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}")
    print(f"cpu      {platform.processor() or platform.machine()}, {os.cpu_count()} cores", flush=True)


def export_both(model, example, folder: Path, checks: Checks, formats: list[str]) -> dict[str, Path]:
    """{"torchscript": path, "aoti": path} for what exported."""
    import tsbridge

    files = {}
    for fmt, name in (("torchscript", "cnn.pt"), ("aoti", "cnn.pt2")):
        if fmt not in formats:
            continue
        path = folder / name
        with checks(f"export {fmt} from the GPU"):
            options = {"target": PACKAGE_TARGET} if fmt == "aoti" and PACKAGE_TARGET else {}
            report = tsbridge.export(
                model, example, path, format=fmt, dynamic_dims={"x": {0: "batch"}}, **options, **TOLERANCE
            )
            print(
                f"      {path.name}: {path.stat().st_size / 1024:.0f} KiB in {report.export_seconds:.1f} s, "
                f"{len(report.checks)} checks vs eager, largest error {max(c.max_abs_error for c in report.checks):.2g}"
            )
            files[fmt] = path
    if "aoti" in files:
        with checks("aoti: the manifest records the package was compiled for cuda"):
            recorded = manifest_of(files["aoti"]).get("aoti", {})
            assert recorded.get("device") == "cuda", f"aoti.device is {recorded.get('device')!r}"
    return files


def check_python(fmt: str, path: Path, eager, checks: Checks):
    """tsbridge.load on cuda: inputs on the GPU agree with eager; inputs on the
    CPU are refused naming both devices (the documented contract); the golden
    sample replays. Returns the loaded model (None when it did not load)."""
    import tsbridge

    model = None
    with checks(f"{fmt}: tsbridge.load(map_location='cuda')"):
        model = tsbridge.load(path, map_location="cuda")
        assert model.device.type == "cuda", f"loaded on {model.device}"
        print(f"      {model!r}")
    if model is None:
        return None
    for batch in (BATCH, OTHER_BATCH):
        with checks(f"{fmt}: Python, GPU input batch {batch} vs eager on the GPU"):
            x = torch.randn(batch, 3, 8, 8, device="cuda")
            got = model(x)
            assert got.device.type == "cuda", f"output on {got.device}"
            close(got, eager(x), f"batch {batch}")
    with checks(f"{fmt}: Python, CPU input refused naming both devices"):
        try:
            model(torch.randn(BATCH, 3, 8, 8))
        except tsbridge.InputError as error:
            assert "expected a tensor on cuda:0" in str(error) and "got one on cpu" in str(error), str(error)
        else:
            raise AssertionError("a CPU tensor ran on a model loaded on cuda")
    with checks(f"{fmt}: Python, CPU input moved with .to(model.device) vs eager"):
        x = torch.randn(BATCH, 3, 8, 8)
        close(model(x.to(model.device)).cpu(), eager(x.cuda()).cpu(), "moved input")
    with checks(f"{fmt}: self_test() replays the golden sample on the GPU"):
        report = model.self_test()
        assert report.passed, f"max abs error {report.max_abs_error}"
    return model


def check_tsrun(fmt: str, path: Path, eager, tsrun: str, folder: Path, checks: Checks) -> None:
    with checks(f"{fmt}: tsrun --selftest --device cuda"):
        out = run([tsrun, path, "--selftest", "--device", "cuda"]).stdout
        assert "device cuda:0" in out.splitlines()[0], out.splitlines()[0]
    x = torch.randn(BATCH, 3, 8, 8, device="cuda")
    expected = eager(x).cpu()
    np.save(folder / "x.npy", x.cpu().numpy())
    torch.save(x, folder / "x_cuda.pt")  # a tensor saved on the GPU: tsrun reads it onto the CPU, then moves it
    for given in ("x.npy", "x_cuda.pt"):
        with checks(f"{fmt}: tsrun --device cuda --input {given} --output out.npz vs eager"):
            npz = folder / f"{fmt}-{given}.npz"
            run([tsrun, path, "--device", "cuda", "--input", f"x={folder / given}", "--output", npz])
            with np.load(npz) as arrays:
                assert len(arrays.files) == 1, arrays.files
                close(torch.from_numpy(arrays[arrays.files[0]]), expected, npz.name)
    with checks(f"{fmt}: tsrun --device cuda --output FOLDER (.npy per output) vs eager"):
        out_dir = folder / f"{fmt}-out"
        run([tsrun, path, "--device", "cuda", "--input", f"x={folder / 'x.npy'}", "--output", out_dir])
        written = sorted(out_dir.glob("*.npy"))
        assert len(written) == 1, written
        close(torch.from_numpy(np.load(written[0])), expected, written[0].name)
    with checks(f"{fmt}: tsrun --device cuda --json says where it ran"):
        doc = json.loads(run([tsrun, path, "--device", "cuda", "--json"]).stdout)
        assert doc["device"] == "cuda:0", doc["device"]


def build_c_program(folder: Path) -> Path:
    import tsbridge

    package = os.path.dirname(tsbridge.__file__)
    include, lib = os.path.join(package, "include"), os.path.join(package, "lib")
    binary = folder / "c_api_device"
    run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Werror",
            HERE / "c_api_device.c",
            f"-I{include}",
            f"-L{lib}",
            "-ltsbridge",
            f"-Wl,-rpath,{lib}",
            "-o",
            binary,
        ]
    )
    return binary


def check_c_api(fmt: str, path: Path, eager, binary: Path | None, checks: Checks) -> None:
    with checks(f"{fmt}: C API, tsb_model_load on cuda, CPU buffer in, vs eager"):
        assert binary is not None, "the C program did not build"
        lines = run([binary, path, "cuda", f"{BATCH}x3x8x8"]).stdout.splitlines()
        assert "status: TSB_OK" in lines, lines[:3]
        values = [float(v) for v in next(line for line in lines if line.startswith("output ")).split(":")[1].split()]
        x = ((torch.arange(BATCH * 3 * 8 * 8) % 13) * 0.25 - 1.5).float().reshape(BATCH, 3, 8, 8)
        expected = eager(x.cuda()).cpu()
        close(torch.tensor(values).reshape(expected.shape), expected, "C API output")


def check_refusals(files: dict, tsrun: str, checks: Checks) -> None:
    """The CUDA package asked to run on the CPU: one clear line, exit 7."""
    import tsbridge

    if "aoti" not in files:
        return
    with checks("aoti: the CUDA package loaded on the CPU is refused (DeviceUnavailableError)"):
        try:
            tsbridge.load(files["aoti"])
        except tsbridge.DeviceUnavailableError as error:
            assert "a .pt2 compiled for cuda cannot run on cpu" in str(error), str(error)
        else:
            raise AssertionError("loaded on the CPU")
    with checks("aoti: tsrun without --device cuda exits 7 with one line"):
        result = run([tsrun, files["aoti"]], expect=7)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def time_calls(call, x, iters: int = BENCH_ITERS) -> dict:
    """Per-call latency as tsrun --bench takes it: synchronised before and after each call."""
    with torch.inference_mode():
        for _ in range(10):
            call(x)
        times = []
        for _ in range(iters):
            torch.cuda.synchronize()
            started = time.perf_counter()
            call(x)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "mean": statistics.fmean(times)}


def tsrun_bench(path: Path, tsrun: str, folder: Path) -> dict:
    doc = json.loads(
        run(
            [
                tsrun,
                path,
                "--device",
                "cuda",
                "--bench",
                "--iters",
                BENCH_ITERS,
                "--json",
                "--input",
                f"x={folder / 'x.npy'}",
            ]
        ).stdout
    )
    bench = doc["timings"]["bench"]
    return {"p50": bench["percentiles_ms"]["50"], "mean": bench["mean_ms"], "load": doc["timings"]["load_ms"]}


def benchmark(files: dict, models: dict, eager, tsrun: str, folder: Path, checks: Checks) -> None:
    rows = []
    x = torch.from_numpy(np.load(folder / "x.npy")).cuda()
    with checks("bench: eager PyTorch on the GPU"):
        rows.append(("eager PyTorch (Python)", time_calls(eager, x)))
    for fmt, path in files.items():
        if models.get(fmt) is not None:
            with checks(f"bench: {fmt} through tsbridge.load (Python)"):
                rows.append((f"{path.name} via tsbridge.load", time_calls(models[fmt], x)))
        with checks(f"bench: tsrun --bench --device cuda {path.name}"):
            rows.append((f"{path.name} via tsrun --bench", tsrun_bench(path, tsrun, folder)))
    print(f"\nlatency per call, batch {BATCH}, {BENCH_ITERS} calls, synchronised around each:")
    print("| runner | p50 ms | mean ms |\n|---|---|---|")
    for name, figures in rows:
        print(f"| {name} | {figures['p50']:.4f} | {figures['mean']:.4f} |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temporary folder)")
    parser.add_argument("--formats", default="torchscript,aoti", help="the formats to check (default: both)")
    args = parser.parse_args()
    tsrun = tsrun_path()
    if not torch.cuda.is_available():
        print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda})")
        print("SKIPPED: no CUDA device is available to this process; nothing to check here (exit 77)")
        return SKIPPED
    describe_machine(tsrun)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tsbridge-gpu-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"files    {folder}\n", flush=True)

    checks = Checks()
    torch.manual_seed(0)
    cnn = ConvNet().eval().cuda()

    def eager(x):
        with torch.no_grad():
            return cnn(x)

    files = export_both(cnn, torch.randn(BATCH, 3, 8, 8, device="cuda"), folder, checks, args.formats.split(","))
    binary = None
    with checks("C API: a C program builds against the installed package (cc)"):
        binary = build_c_program(folder)
    models = {}
    for fmt, path in files.items():
        models[fmt] = check_python(fmt, path, eager, checks)
        check_tsrun(fmt, path, eager, tsrun, folder, checks)
        check_c_api(fmt, path, eager, binary, checks)
    check_refusals(files, tsrun, checks)
    benchmark(files, models, eager, tsrun, folder, checks)

    total = checks.passed + len(checks.failed)
    if checks.failed:
        print(f"FAILED: {len(checks.failed)} of {total} checks: {', '.join(checks.failed)}")
        return 1
    print(f"PASSED: all {total} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
