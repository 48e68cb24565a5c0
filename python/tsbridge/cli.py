"""The `tsbridge` command: export, inspect and verify archives without
writing a script."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from . import _core
from .cpu_target import TARGETS
from .errors import Error, ExportError, LoadError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOAD = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cmake_dir:
        print(cmake_dir())
        return EXIT_OK
    if args.show_version:
        from .doctor import version_text

        print(version_text())
        return EXIT_OK
    if args.command is None:
        parser.error("a command is required (export, tune, migrate, info, verify, triton or doctor)")
    try:
        return args.run(args)
    except LoadError as error:
        print(f"tsbridge: error: {error}", file=sys.stderr)
        return EXIT_LOAD
    except (ExportError, Error) as error:
        print(f"tsbridge: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (UsageError, TypeError, ValueError) as error:
        # export's argument checks raise TypeError/ValueError naming the argument.
        print(f"tsbridge: error: {error}", file=sys.stderr)
        return EXIT_USAGE


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsbridge",
        description="Export PyTorch models to TorchScript archives that run in C++, and check them.",
        epilog="exit codes: 0 success, 1 export or verification failed, 2 usage error, 3 file cannot be loaded",
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
    doctor.set_defaults(run=_doctor)

    _add_export_command(commands)
    _add_tune_command(commands)

    info = commands.add_parser("info", help="describe an archive: manifest, methods, parameters")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=_info)

    _add_migrate_command(commands)

    verify = commands.add_parser("verify", help="compare Python, C++ and the golden sample")
    verify.add_argument("model")
    verify.set_defaults(run=_verify)

    _add_triton_command(commands)
    return parser


def _add_export_command(commands) -> None:
    export = commands.add_parser("export", help="export a model made by a factory function")
    export.add_argument("factory", help="pkg.module:callable returning the model (an nn.Module or a function)")
    export.add_argument(
        "--example",
        action="append",
        required=True,
        metavar="NAME=DIMS[:DTYPE]",
        help="an example input, e.g. x=1x3x224x224:float32 (repeat, in argument order)",
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
    export.add_argument("--tune-budget", type=float, metavar="SEC", help="the search's time bound (default 60)")
    _add_tolerances(export)
    export.set_defaults(run=_export)


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
    tune.add_argument(
        "--tune-budget", type=float, default=60.0, metavar="SEC", help="the search's time bound (default 60)"
    )
    tune.add_argument("--threads", metavar="LIST", help="thread counts to try, e.g. 1,2 (default 1 to the cores)")
    tune.add_argument("--clients", type=int, default=1, help="tune for N concurrent callers (default 1: latency)")
    tune.add_argument("--sidecar", action="store_true", help="write MODEL.tuning.json; leave the archive untouched")
    tune.add_argument("--json", action="store_true", help="print the record as JSON")
    tune.set_defaults(run=_tune)


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
        metavar="NAME=DIMS[:DTYPE]",
        help="an input's shape when OLD has no golden sample or recorded shapes, e.g. x=1x3x224x224",
    )
    _add_target(migrate, "the CPU the package is compiled for (default x86-64-v3)")
    _add_tolerances(migrate)
    migrate.set_defaults(run=_migrate)


def _add_target(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--target", choices=TARGETS, help=help)


def _add_tolerances(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--atol", type=float, default=1e-5)


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
        metavar="NAME=DIMS[:DTYPE]",
        help="an input of a file with no manifest, e.g. x=-1x10:float32 or x=batch,10 "
        "(-1 or a name marks a dynamic dim; repeat per input)",
    )
    triton.add_argument("--replace", action="store_true", help="overwrite an existing model of that name")
    triton.set_defaults(run=_triton)


def cmake_dir() -> str:
    """Where `find_package(tsbridge)` finds the installed package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "share", "cmake", "tsbridge")


def _doctor(args) -> int:
    from .doctor import diagnose

    checks = diagnose()
    for check in checks:
        print(check)
    return EXIT_FAILED if any(c.required and not c.ok for c in checks) else EXIT_OK


# ── export ──


def _export(args) -> int:
    from .exporting import export

    model = _load_factory(args.factory)()
    names, specs = zip(*(_example(text) for text in args.example), strict=True)
    examples = _core.make_inputs(list(specs))  # tsrun's stand-ins: seed 0, randn for floats, 0-9 for ints
    metadata = _json_object(args.metadata, "--metadata") if args.metadata else None
    dims = _dynamic(args.dynamic) if args.dynamic else None
    report = export(
        model,
        tuple(examples),
        args.output,
        capture=args.capture,
        format=args.format,
        input_names=list(names),
        dynamic_dims=dims,
        freeze=not args.no_freeze,
        target=args.target,
        metadata=metadata,
        rtol=args.rtol,
        atol=args.atol,
        tune=args.tune,
        tune_budget_seconds=args.tune_budget,
    )
    print(report)
    return EXIT_OK


def _tune(args) -> int:
    from .tuner import describe, tune

    if not args.tune_budget > 0:
        raise UsageError(f"--tune-budget must be a number of seconds > 0, got {args.tune_budget:g}")
    threads = None
    if args.threads:
        try:
            threads = [int(n) for n in args.threads.split(",")]
        except ValueError:
            raise UsageError(f"--threads expects counts like 1,2, got {args.threads!r}") from None
    from .errors import InvalidArgumentError

    try:
        record = tune(
            args.model,
            tune_budget_seconds=args.tune_budget,
            threads=threads,
            clients=args.clients,
            sidecar=args.sidecar,
        )
    except InvalidArgumentError as error:  # an option's value, or a path it cannot write: a usage error (exit 2)
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(record, indent=2))
        return EXIT_OK
    print(f"tsbridge tune: {args.model} on {record['machine']['cpu_model']} ({record['machine']['cores']} cores)")
    print("\n".join(describe(record)))
    print(f"  wrote    {_core.sidecar_path(args.model) if args.sidecar else args.model}")
    return EXIT_OK


def _load_factory(target: str):
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"factory must look like pkg.module:callable, got {target!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import {module_name}: {error}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise UsageError(f"{module_name} has no callable {attribute!r}")
    return factory


def _example(text: str) -> tuple[str, _core.TensorSpec]:
    from .specs import dtype_from_name

    usage = f"--example expects NAME=DIMS[:DTYPE] like x=1x3x224x224:float32, got {text!r}"
    name, _, rest = text.partition("=")
    dims, _, dtype_name = rest.partition(":")
    try:
        shape = _core.parse_shape(dims)
        dtype_from_name(dtype_name or "float32")
    except (ValueError, KeyError):
        raise UsageError(usage) from None
    if not name:
        raise UsageError(usage)
    return name, _core.TensorSpec(name, dtype_name or "float32", shape)


def _dynamic(items: list[str]) -> dict[str, dict[int, str]]:
    dims: dict[str, dict[int, str]] = {}
    for item in items:
        target, _, dim_name = item.partition("=")
        name, _, dim = target.partition(":")
        if not (name and dim.lstrip("-").isdigit() and dim_name):
            raise UsageError(f"--dynamic expects NAME:DIM=DIMNAME like x:0=batch, got {item!r}")
        dims.setdefault(name, {})[int(dim)] = dim_name
    return dims


def _json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{option} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object")
    return value


# ── info ──


def describe(path: str) -> dict[str, Any]:
    """What `tsbridge info` shows, as data."""
    from .runtime import load

    return _description(load(path))


def _description(runtime) -> dict[str, Any]:
    # The C++ runtime's count, as tsrun --info's: each distinct tensor once (tied weights).
    stats = runtime.stats()
    return {
        "path": runtime.path,
        "file_bytes": os.path.getsize(runtime.path),
        "format": runtime.format,
        "methods": runtime.methods,
        "parameters": stats.parameters,
        "parameter_bytes": stats.parameter_bytes,
        "manifest": runtime.manifest,
    }


def _spec_text(spec: _core.TensorSpec) -> str:
    return f"{spec.name}: {spec}"  # TensorSpec's str is the C++ TensorSpec::to_string


def _info(args) -> int:
    from .runtime import load

    runtime = load(args.model)
    info = _description(runtime)
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    manifest = info["manifest"]
    print(f"{info['path']} ({info['file_bytes'] / 1024:.1f} KiB)")
    print(f"  format      {info['format']}")
    print(f"  methods     {', '.join(info['methods'])}")
    print(f"  parameters  {info['parameters']:,} ({info['parameter_bytes'] / 1024:.1f} KiB)")
    if manifest is None:
        print("  manifest    none (a plain TorchScript file)")
        return EXIT_OK
    made = f"tsbridge {manifest['tsbridge_version']}, torch {manifest['torch_version']}, {manifest['method']}"
    print(f"  made by     {made}{', frozen' if manifest['frozen'] else ''}")
    typed = runtime._core.manifest
    print(f"  inputs      {'; '.join(map(_spec_text, typed.inputs)) or '-'}")
    print(f"  outputs     {'; '.join(map(_spec_text, typed.outputs)) or '-'}")
    cpu = manifest.get("cpu")
    if cpu:
        threads = manifest.get("aoti", {}).get("threads", "fixed")
        print(
            f"  cpu         {cpu['target']} ({cpu['arch']}, vec ISA {cpu.get('vec_isa') or 'none'}, "
            f"threads {threads}); needs {', '.join(cpu['features']) or '-'}"
        )
    tuning = manifest.get("tuning")
    if tuning:
        machine = tuning["machine"]
        print(f"  tuning      {tuning['winner']} (measured on {machine['cpu_model']}, {machine['cores']} cores)")
    golden = manifest.get("golden")
    golden_text = f"yes (rtol {golden['rtol']:g}, atol {golden['atol']:g})" if golden else "none"
    print(f"  golden      {golden_text}")
    print(f"  metadata    {json.dumps(manifest['metadata'])}")
    return EXIT_OK


# ── migrate ──


def _migrate(args) -> int:
    from .migrate import migrate

    shapes = {}
    for text in args.shape:
        name, sep, value = text.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--shape must look like NAME=DIMS[:DTYPE], got {text!r}")
        shapes[name] = value
    report = migrate(args.old, args.new, shapes=shapes or None, target=args.target, rtol=args.rtol, atol=args.atol)
    print(report)
    return EXIT_OK


# ── verify ──


def _verify(args) -> int:
    from .verify import verify

    report = verify(args.model)
    print(report)
    return EXIT_OK if report.passed else EXIT_FAILED


# ── triton ──


def _triton(args) -> int:
    from .errors import InvalidArgumentError
    from .triton import to_triton

    specs = [_input_spec(text) for text in args.shape] if args.shape else None
    try:
        written = to_triton(
            args.model,
            args.repository,
            name=args.name,
            version=args.version,
            instances=args.instances,
            kind=args.kind,
            max_batch_size=args.max_batch_size,
            dynamic_batching=args.dynamic_batching,
            max_queue_delay_us=args.max_queue_delay_us,
            naming=args.naming,
            input_specs=specs,
            replace=args.replace,
        )
    except InvalidArgumentError as error:  # an option's value: a usage error (exit 2)
        raise UsageError(str(error)) from None
    print(written)
    print(written.text, end="")
    return EXIT_OK


def _input_spec(text: str) -> dict:
    """--shape NAME=DIMS[:DTYPE] as a manifest-style spec; -1 or a name is a dynamic dim."""
    from .specs import dtype_from_name

    usage = f"--shape expects NAME=DIMS[:DTYPE] like x=-1x10:float32 or x=batch,10, got {text!r}"
    name, _, rest = text.partition("=")
    dims, _, dtype = rest.partition(":")
    dtype = dtype or "float32"
    if not name or not dims:
        raise UsageError(usage)
    try:
        dtype_from_name(dtype)
    except KeyError:
        raise UsageError(f"--shape {text!r}: unknown dtype {dtype!r}") from None
    shape: list = []
    for index, token in enumerate(dims.split("," if "," in dims else "x")):
        if token == "-1":
            shape.append("batch" if index == 0 else f"{name}_dim{index}")
        elif token.isdigit():
            shape.append(int(token))
        elif token.isidentifier():
            shape.append(token)
        else:
            raise UsageError(usage)
    return {"name": name, "dtype": dtype, "shape": shape}


if __name__ == "__main__":
    sys.exit(main())
