"""The `tsbridge` command line: its subcommands, their options and help.
Each subcommand's handler (set as `run`) lives in the module named after it."""

from __future__ import annotations

import argparse

from ..cpu_target import TARGETS
from ..tuner import DEFAULT_BUDGET_SECONDS
from .checks import run_doctor, run_verify
from .export import run_export
from .info import run_info
from .migrate import run_migrate
from .triton import run_triton
from .tune import run_tune

COMMANDS = "export, tune, migrate, info, verify, triton or doctor"
SPEC_FORM = "NAME=DIMS[:DTYPE]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsbridge",
        description="Export PyTorch models to TorchScript archives that run in C++, and check them.",
        epilog="exit codes: 0 success, 1 export or verification failed, 2 usage error, 3 file cannot be loaded, "
        "70 a bug in tsbridge (with a traceback to report)",
    )
    parser.add_argument(
        "--cmake-dir",
        action="store_true",
        help="print the folder of tsbridge's CMake package (for CMAKE_PREFIX_PATH or tsbridge_DIR)",
    )
    # dest differs from the triton subcommand's --version (the model version it writes).
    parser.add_argument(
        "--version", dest="show_version", action="store_true", help="print versions and this build's features"
    )
    commands = parser.add_subparsers(dest="command")

    doctor = commands.add_parser("doctor", help="check what this installation can do, and why not")
    doctor.set_defaults(run=run_doctor)

    _add_export_command(commands)
    _add_tune_command(commands)

    info = commands.add_parser("info", help="describe an archive: manifest, methods, parameters")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=run_info)

    _add_migrate_command(commands)

    verify = commands.add_parser("verify", help="compare Python, C++ and the golden sample")
    verify.add_argument("model")
    verify.set_defaults(run=run_verify)

    _add_triton_command(commands)
    return parser


def _add_export_command(commands) -> None:
    export = commands.add_parser("export", help="export a model made by a factory function")
    export.add_argument("factory", help="pkg.module:callable returning the model (an nn.Module or a function)")
    export.add_argument(
        "--example",
        action="append",
        required=True,
        metavar=SPEC_FORM,
        help="an example input, e.g. x=1x3x224x224:float32 (every dim a size; dtype float32 unless given; "
        "repeat, in argument order)",
    )
    export.add_argument("-o", "--output", required=True, help="archive to write")
    export.add_argument(
        "--capture", choices=["auto", "script", "trace"], default="auto", help="how a TorchScript archive is captured"
    )
    export.add_argument(
        "--format",
        choices=["torchscript", "aoti", "auto"],
        default="torchscript",
        help="torchscript (default), aoti (a .pt2 package) or auto (both built, the faster kept)",
    )
    export.add_argument(
        "--dynamic",
        action="append",
        default=[],
        metavar="NAME:DIM=DIMNAME",
        help="a dynamic dim, e.g. x:0=batch (default: infer dim 0)",
    )
    _add_target(export, "the CPU a .pt2 is compiled for (default x86-64-v3: AVX2, any server of the last decade)")
    export.add_argument("--no-freeze", action="store_true", help="keep the module unfrozen")
    export.add_argument("--metadata", help="JSON object stored in the manifest")
    export.add_argument(
        "--tune",
        action="store_true",
        help="search the fastest way to run it here (executor, fusion, threads; .pt2 compile variants) "
        "and record it in the manifest (docs/tuning.md)",
    )
    _add_tune_budget(export, default=None)
    export.add_argument(
        "--tolerance",
        type=float,
        metavar="TOL",
        help="with --tune: also try bf16 and fp16 (where this CPU runs them natively), each kept only if it "
        "matches fp32 eager within TOL (rtol and atol), e.g. 1e-2",
    )
    export.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default="fp32",
        help="the weights' and arithmetic's precision; inputs and outputs keep their dtypes, checks compare "
        "with fp32 eager (default tolerance 1e-2 for bf16, 2e-3 for fp16)",
    )
    export.add_argument(
        "--layout",
        choices=["auto", "contiguous", "channels_last"],
        default="auto",
        help="a TorchScript archive's 2-D convolution weights: auto (channels-last for a model with a Conv2d, "
        "contiguous if that fails its checks), channels_last or contiguous",
    )
    export.add_argument(
        "--kernel-profile",
        action="store_true",
        help="with --format aoti: a profiling build whose kernels show in tsrun --profile (each call slower: "
        "do not ship it)",
    )
    _add_tolerances(export, default=None)
    export.set_defaults(run=run_export)


def _add_tune_command(commands) -> None:
    tune = commands.add_parser(
        "tune",
        help="re-tune an archive's runtime settings on this machine",
        description="Measure MODEL's runtime settings that need no recompilation (intra-op threads, "
        "TorchScript's executor and oneDNN fusion, a .pt2's runners) on this machine, each candidate checked "
        "against the golden sample, and record the fastest in its manifest (or, with --sidecar, in "
        "MODEL.tuning.json beside it, as tsrun --tune does). To tune a model from its factory: "
        "tsbridge export ... --tune.",
    )
    tune.add_argument("model")
    _add_tune_budget(tune, default=DEFAULT_BUDGET_SECONDS)
    tune.add_argument(
        "--tune-threads", metavar="LIST", help="intra-op thread counts to try, e.g. 1,2 (default 1 to the cores)"
    )
    tune.add_argument("--tune-clients", type=int, default=1, help="tune for N concurrent callers (default 1: latency)")
    tune.add_argument("--sidecar", action="store_true", help="write MODEL.tuning.json; leave the archive untouched")
    tune.add_argument("--json", action="store_true", help="print the record as JSON")
    tune.set_defaults(run=run_tune)


def _add_tune_budget(parser: argparse.ArgumentParser, default: float | None) -> None:
    # export leaves it None so that a budget given without --tune is refused; the tuner's default applies.
    parser.add_argument(
        "--tune-budget",
        type=float,
        default=default,
        metavar="SEC",
        help=f"the search's time bound (default {DEFAULT_BUDGET_SECONDS:g})",
    )


def _add_migrate_command(commands) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="convert a TorchScript archive to a checked .pt2 package",
        description="Convert OLD (a TorchScript archive, from tsbridge or torch.jit.save) "
        "to NEW, a .pt2 package checked against OLD in the C++ runtime.",
    )
    migrate.add_argument("old")
    migrate.add_argument("new")
    migrate.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar=SPEC_FORM,
        help="an input's shape when OLD has no golden sample or recorded shapes, e.g. x=1x3x224x224 (every dim a size)",
    )
    _add_target(migrate, "the CPU the package is compiled for (default x86-64-v3)")
    _add_tolerances(migrate)
    migrate.set_defaults(run=run_migrate)


def _add_target(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--target", choices=TARGETS, help=help)


def _add_tolerances(parser: argparse.ArgumentParser, default: float | None = 1e-5) -> None:
    # export leaves them None: the precision's default applies.
    parser.add_argument("--rtol", type=float, default=default)
    parser.add_argument("--atol", type=float, default=default)


def _add_triton_command(commands) -> None:
    triton = commands.add_parser(
        "triton",
        help="write a Triton Inference Server model repository entry",
        description="Copy MODEL to REPO/NAME/VERSION/model.pt|model.pt2 and write "
        "REPO/NAME/config.pbtxt from its manifest (docs/serving.md).",
    )
    triton.add_argument("model")
    triton.add_argument("repository", help="the model repository folder (created if missing; other models stay)")
    triton.add_argument("--name", help="the model's name in the repository (default: the file's stem)")
    triton.add_argument("--version", type=int, default=1, help="the version folder (default 1)")
    triton.add_argument("--instances", type=int, default=1, help="instance_group count (default 1)")
    triton.add_argument("--kind", choices=["cpu", "gpu"], default="cpu", help="KIND_CPU (default) or KIND_GPU")
    triton.add_argument(
        "--max-batch-size",
        type=int,
        help="0 for full dims; default 8 for a TorchScript model whose dim 0 is a batch dim, else 0",
    )
    batching = triton.add_mutually_exclusive_group()
    batching.add_argument(
        "--dynamic-batching",
        dest="dynamic_batching",
        action="store_true",
        default=None,
        help="batch requests in Triton (default: on when the max batch size is above 0)",
    )
    batching.add_argument("--no-dynamic-batching", dest="dynamic_batching", action="store_false")
    triton.add_argument("--max-queue-delay-us", type=int, help="dynamic batching's max_queue_delay_microseconds")
    triton.add_argument(
        "--naming",
        choices=["auto", "ordinal"],
        default="auto",
        help="auto: forward's argument names (TorchScript) or call-spec names like ARGS[0] "
        "(.pt2, Triton 26.05+); ordinal: INPUT__i / OUTPUT__i",
    )
    triton.add_argument(
        "--shape",
        action="append",
        metavar=SPEC_FORM,
        help="an input of a file with no manifest, e.g. x=-1x10:float32 or x=batch,10 "
        "(-1 or a name marks a dynamic dim; dtype float32 unless given; repeat per input)",
    )
    triton.add_argument("--replace", action="store_true", help="overwrite an existing model of that name")
    triton.set_defaults(run=run_triton)
