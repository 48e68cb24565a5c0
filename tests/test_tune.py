"""The tuner: export(tune=True) records every candidate and the winner, loads
apply the recorded settings (process-wide ones by the documented rule),
tsrun --tune writes a sidecar that keeps the archive intact, and bad input
is refused with one line. Correctness only: no test reads a timing."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import jsonschema
import pytest
import torch

import tsbridge
from models import MLP, ControlFlow, SimpleModel
from tsbridge import _core, manifest as manifest_, tuner

BUDGET = 6  # seconds: the runtime search on tiny models; compile variants never fit


def tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=300)


def manifest_of(path):
    return tsbridge.load(path, apply_tuning=False).manifest.document


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """SimpleModel exported as TorchScript with tune=True, once for the module."""
    torch.manual_seed(0)
    model = SimpleModel().eval()
    x = torch.randn(5, 10)
    path = tmp_path_factory.mktemp("tuned") / "simple.pt"
    report = tsbridge.export(model, x, path, tune=True, tune_budget_seconds=BUDGET)
    return model, x, path, report


@pytest.fixture
def copy(tuned, tmp_path):
    """A private copy of the tuned archive (tests that write sidecars or rewrite it)."""
    path = tmp_path / "model.pt"
    shutil.copy(tuned[2], path)
    return path


def with_settings(source, target, **settings):
    """`source` rewritten with its tuning record's settings replaced (the digests recomputed)."""
    record = manifest_of(source)["tuning"]
    record["settings"] = {**record["settings"], **settings}
    tuner.rewrite_manifest(str(source), str(target), tuning=record)
    return target


# ── what the manifest records ──


def test_the_manifest_records_every_candidate_and_the_winner(tuned):
    _, _, path, report = tuned
    record = manifest_of(path)["tuning"]
    jsonschema.validate(manifest_of(path), manifest_.schema())
    names = [c["name"] for c in record["candidates"]]
    assert len(names) == len(set(names)) and record["winner"] in names
    cores = os.cpu_count()
    # Every executor setting at every thread count, each with a figure or why none.
    for variant in ("", " optimize_graph profiling", " optimize_graph legacy", " optimize_graph onednn_fusion"):
        for threads in range(1, cores + 1):
            assert f"torchscript{variant} threads={threads}" in names
    for candidate in record["candidates"]:
        assert candidate["status"] == "ok" or candidate["status"].startswith(("failed: ", "skipped: "))
        assert (candidate["us_per_call"] is not None) == (candidate["status"] == "ok")
    winner = next(c for c in record["candidates"] if c["name"] == record["winner"])
    assert winner["status"] == "ok" and record["settings"] == winner["settings"]
    assert record["reason"] and record["noise"] >= 0.05 and record["rounds"] == 5
    machine = _core.this_machine()
    assert record["machine"] == {
        "arch": machine.arch,
        "cpu_model": machine.cpu_model,
        "cores": machine.cores,
        "features": machine.features,
    }
    assert report.tuning == record and record["winner"] in str(report)


def test_both_readers_read_the_same_record(tuned):
    path = tuned[2]
    record = manifest_of(path)["tuning"]
    typed = _core.Model.load(str(path), apply_tuning=False).manifest.tuning
    assert [c.name for c in typed.candidates] == [c["name"] for c in record["candidates"]]
    assert typed.candidates[typed.winner_index].name == record["winner"]
    assert typed.settings.threads == record["settings"]["threads"]
    assert typed.settings.optimize_graph == record["settings"]["optimize_graph"]
    assert typed.settings.profiling_executor == record["settings"]["profiling_executor"]
    assert json.loads(typed.json()) == record  # the C++ writer's form is the manifest's


def test_the_tie_rule_keeps_the_simplest_within_the_margin(tuned):
    record = manifest_of(tuned[2])["tuning"]
    timed = [c for c in record["candidates"] if c["status"] == "ok"]
    fastest = min(c["us_per_call"] for c in timed)
    within = [c for c in timed if c["us_per_call"] <= fastest * (1 + record["noise"])]
    assert record["winner"] == within[0]["name"]  # candidates are listed simplest first


# ── load applies it ──


def test_tsrun_applies_the_recorded_settings(copy, tsrun_path):
    path = with_settings(copy, copy, threads=1, optimize_graph=True, profiling_executor=False)
    info = json.loads(tsrun(tsrun_path, path, "--info", "--json").stdout)["tuning"]
    assert info["source"] == "manifest"
    assert info["applied"]["threads"] == 1 and info["applied"]["optimize_graph"] is True
    assert info["applied"]["profiling_executor"] is False and info["notes"] == []
    off = json.loads(tsrun(tsrun_path, path, "--info", "--json", "--no-tuning").stdout)["tuning"]
    assert off["source"] is None and off["applied"]["threads"] == 0
    assert tsrun(tsrun_path, path, "--selftest").returncode == 0


@pytest.mark.native
def test_the_c_api_applies_a_tuning_unless_no_tuning(copy, tmp_path_factory):
    # tests/native/c_api_tuning.c: loads with no_tuning, then without, in one C process.
    from native.harness import build_env, native_build

    path = with_settings(copy, copy, threads=1, optimize_graph=True, profiling_executor=False)
    program = native_build(tmp_path_factory).program("c_api_tuning")
    run = subprocess.run([program, str(path)], capture_output=True, text=True, env=build_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    printed = dict(line.split(": ", 1) for line in run.stdout.splitlines())
    off, on = json.loads(printed["no_tuning"]), json.loads(printed["default"])
    assert off["source"] is None and off["notes"] == []
    assert off["applied"]["threads"] == 0 and off["applied"]["optimize_graph"] is False
    assert on["source"] == "manifest" and on["notes"] == [], on["notes"]
    assert on["recorded"] == on["applied"]
    assert on["applied"]["threads"] == 1 and on["applied"]["optimize_graph"] is True
    assert on["applied"]["profiling_executor"] is False and on["applied"]["text"] == on["recorded"]["text"]


def test_outputs_under_the_applied_settings_match_eager(tuned, tmp_path):
    model, _, path, _ = tuned
    x = torch.randn(6, 10)
    with torch.no_grad():
        torch.save({"x": x, "eager": model(x)}, tmp_path / "eager.pt")
    # In a process of its own: the applied threads are process-wide.
    script = f"""
        import torch, tsbridge
        runtime = tsbridge.load({str(path)!r})
        applied = runtime.tuning
        assert applied.source == "manifest", applied.notes
        assert applied.applied == applied.recorded, (applied.applied, applied.recorded)
        threads = applied.recorded.threads
        assert threads == 0 or torch.get_num_threads() == threads
        sample = torch.load({str(tmp_path / "eager.pt")!r})
        torch.testing.assert_close(runtime(sample["x"]), sample["eager"])
        assert runtime.self_test().passed
    """
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_process_wide_settings_the_first_load_and_the_app_decide(copy, tmp_path):
    one = with_settings(copy, tmp_path / "one.pt", threads=1)
    two = with_settings(copy, tmp_path / "two.pt", threads=2)
    script = f"""
        import tsbridge
        first = tsbridge.load({str(one)!r}).tuning
        second = tsbridge.load({str(two)!r}).tuning
        assert first.applied.threads == 1 and first.notes == [], first.notes
        assert second.applied.threads == 0, second.notes
        (note,) = second.notes
        assert "threads=2 not applied: threads is process-wide" in note and "one.pt" in note, note
        tsbridge.set_threads(intra_op=2)
        third = tsbridge.load({str(one)!r}).tuning
        assert "threads=1 not applied: the application set threads=2" in third.notes[0], third.notes
    """
    if os.cpu_count() < 2:
        pytest.skip("needs 2 cores to record two thread counts")
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_a_record_from_another_machine_is_not_applied(copy, tsrun_path):
    record = manifest_of(copy)["tuning"]
    record["machine"]["cpu_model"] = "Some Other CPU"
    tuner.rewrite_manifest(str(copy), str(copy), tuning=record)
    result = tsrun(tsrun_path, copy, "--info", "--json")
    info = json.loads(result.stdout)["tuning"]
    assert info["source"] is None and "measured on Some Other CPU" in info["notes"][0]
    assert "tsrun: note: the manifest's tuning was measured on Some Other CPU" in result.stderr


# ── tsrun --tune: the sidecar ──


def test_tsrun_tune_writes_a_sidecar_that_loads_apply(copy, tsrun_path):
    before = copy.read_bytes()
    result = tsrun(tsrun_path, copy, "--tune", "--tune-budget", BUDGET, "--tune-threads", "1", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    sidecar = json.loads((copy.parent / "model.pt.tuning.json").read_text())
    assert out["sidecar"] == str(copy) + ".tuning.json" and sidecar["tuning"] == out["tuning"]
    assert sidecar["format"] == "tsbridge-tuning" and sidecar["archive"] == "model.pt"
    assert sidecar["archive_sha256"] == hashlib.sha256(before).hexdigest()
    assert copy.read_bytes() == before and _core.check_integrity(str(copy)).intact  # the archive untouched
    assert {c["settings"]["threads"] for c in sidecar["tuning"]["candidates"]} == {1}
    info = json.loads(tsrun(tsrun_path, copy, "--info", "--json").stdout)["tuning"]
    assert info["source"] == "sidecar" and info["recorded"]["threads"] == 1
    assert tsrun(tsrun_path, copy, "--selftest").returncode == 0
    text = tsrun(tsrun_path, copy, "--tune", "--tune-budget", BUDGET, "--tune-threads", "1")
    assert text.returncode == 0 and "kept:" in text.stdout and "wrote:" in text.stdout


def test_a_sidecar_for_another_archive_or_machine_is_ignored_with_a_note(copy, tsrun_path):
    assert tsrun(tsrun_path, copy, "--tune", "--tune-budget", BUDGET, "--tune-threads", "1").returncode == 0
    sidecar_path = copy.parent / "model.pt.tuning.json"
    sidecar = json.loads(sidecar_path.read_text())
    sidecar_path.write_text(json.dumps({**sidecar, "archive_sha256": "0" * 64}))
    info = json.loads(tsrun(tsrun_path, copy, "--info", "--json").stdout)["tuning"]
    assert info["source"] == "manifest"  # the sidecar ignored, the manifest's record applies
    assert "ignored: it was written for another archive" in info["notes"][0]
    sidecar["tuning"]["machine"]["cores"] = 999
    sidecar_path.write_text(json.dumps(sidecar))
    info = json.loads(tsrun(tsrun_path, copy, "--info", "--json").stdout)["tuning"]
    assert "999 cores" in info["notes"][0] and "re-tune here" in info["notes"][0]
    sidecar_path.write_text("not json")
    info = json.loads(tsrun(tsrun_path, copy, "--info", "--json").stdout)["tuning"]
    assert "not a tsbridge tuning sidecar" in info["notes"][0]


# ── tsbridge tune on an archive ──


def test_tsbridge_tune_rewrites_the_manifest_and_keeps_it_intact(copy):
    result = subprocess.run(
        [sys.executable, "-m", "tsbridge.cli", "tune", str(copy), "--tune-budget", str(BUDGET), "--tune-threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    record = manifest_of(copy)["tuning"]
    assert {c["settings"]["threads"] for c in record["candidates"]} == {1}
    assert _core.check_integrity(str(copy)).intact and tsbridge.load(copy, apply_tuning=False).self_test().passed


def test_tsbridge_tune_from_python_writes_a_sidecar(copy):
    before = copy.read_bytes()
    record = tsbridge.tune(copy, tune_budget_seconds=BUDGET, tune_threads=[1], sidecar=True)
    sidecar = json.loads((copy.parent / "model.pt.tuning.json").read_text())
    assert sidecar["tuning"] == record and record["settings"]["threads"] == 1
    assert copy.read_bytes() == before
    # Written whole (a temporary file renamed into place) and replaced whole.
    old = (copy.parent / "model.pt.tuning.json").stat().st_ino
    tsbridge.tune(copy, tune_budget_seconds=BUDGET, tune_threads=[1], sidecar=True)
    assert (copy.parent / "model.pt.tuning.json").stat().st_ino != old
    assert sorted(p.name for p in copy.parent.iterdir()) == ["model.pt", "model.pt.tuning.json"]


# ── refusals ──


@pytest.mark.parametrize(
    "args, code, line",
    [
        (["--tune-budget", "0"], 2, "--tune-budget expects a number in"),
        (["--tune-budget", "-3"], 2, "--tune-budget expects a number in"),
        (["--tune-threads", "999"], 2, "thread count 999 is outside 1 to this machine's"),
    ],
)
def test_tsrun_tune_refuses_bad_options(copy, tsrun_path, args, code, line):
    result = tsrun(tsrun_path, copy, "--tune", *args)
    assert result.returncode == code and line in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (copy.parent / "model.pt.tuning.json").exists()


def test_tsrun_tune_refuses_what_is_not_an_archive(tmp_path, tsrun_path):
    path = tmp_path / "notes.pt"
    path.write_text("not an archive")
    result = tsrun(tsrun_path, path, "--tune")
    assert result.returncode == 3 and len(result.stderr.splitlines()) == 1
    missing = tsrun(tsrun_path, tmp_path / "missing.pt", "--tune")
    assert missing.returncode == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pt"]


def test_tsrun_tune_refuses_an_unwritable_sidecar_before_measuring(copy, tsrun_path):
    (copy.parent / "model.pt.tuning.json").mkdir()
    result = tsrun(tsrun_path, copy, "--tune")
    assert result.returncode == 2 and "cannot write the tuning sidecar" in result.stderr
    assert "it is a folder" in result.stderr and len(result.stderr.splitlines()) == 1


def test_tune_refuses_a_file_without_a_golden_sample(tmp_path, tsrun_path):
    path = tmp_path / "plain.pt"
    tsbridge.save(tsbridge.script(SimpleModel().eval()), path, example_inputs=torch.randn(2, 10))
    result = tsrun(tsrun_path, path, "--tune")
    assert result.returncode == 2 and "has no golden sample to check the candidates against" in result.stderr


def test_export_refuses_bad_tune_arguments(tmp_path):
    model, x = MLP().eval(), torch.randn(2, 16)
    with pytest.raises(ValueError, match="tune_budget_seconds must be a number > 0"):
        tsbridge.export(model, x, tmp_path / "a.pt", tune=True, tune_budget_seconds=0)
    with pytest.raises(ValueError, match="applies only with tune=True"):
        tsbridge.export(model, x, tmp_path / "b.pt", tune_budget_seconds=10)
    assert list(tmp_path.iterdir()) == []


def test_tuning_works_for_any_order_of_exports_in_one_process(tmp_path):
    # A tuned export after others of the same examples: format="auto" tries torch.export first,
    # which marks the tensors it traces; every candidate's golden sample must still load.
    x = torch.randn(4, 4)
    model = ControlFlow().eval()
    tsbridge.export(model, x, tmp_path / "default.pt")
    tsbridge.export(model, x, tmp_path / "auto.pt", format="auto")
    for name, options in (("tuned.pt", {}), ("auto_tuned.pt", {"format": "auto"})):
        report = tsbridge.export(model, x, tmp_path / name, tune=True, tune_budget_seconds=BUDGET, **options)
        assert report.tuning is not None and report.tuning["winner"]
        loaded = tsbridge.load(tmp_path / name, apply_tuning=False)
        assert loaded.self_test().passed
        torch.testing.assert_close(loaded(x), model(x))
    tsbridge.export(
        SimpleModel().eval(), torch.randn(2, 10), tmp_path / "other.pt", tune=True, tune_budget_seconds=BUDGET
    )


# ── a .pt2: the compile variants the budget cannot fit, and runners ──


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """SimpleModel as a .pt2 with tune=True: one compile for the module."""
    torch.manual_seed(0)
    model, x = SimpleModel().eval(), torch.randn(4, 10)
    path = tmp_path_factory.mktemp("package") / "simple.pt2"
    report = tsbridge.export(model, x, path, format="aoti", tune=True, tune_budget_seconds=BUDGET)
    return model, x, path, report


@pytest.mark.aoti
def test_a_pt2_records_the_variants_its_budget_could_not_fit(package):
    model, x, path, report = package
    record = manifest_of(path)["tuning"]
    jsonschema.validate(manifest_of(path), manifest_.schema())
    by_build = {c["build"]: c for c in record["candidates"]}
    for build in ("no-freezing", "max-autotune"):
        assert by_build[build]["status"].startswith("skipped: its compile"), by_build[build]
    assert any(c["build"] == "default" and c["status"] == "ok" for c in record["candidates"])
    winner = next(c for c in record["candidates"] if c["name"] == record["winner"])
    assert winner["format"] == "aoti" and winner["settings"]["runners"] == 0  # one caller: runners not tuned
    assert any("skipped: its compile" in w for w in report.warnings)
    loaded = tsbridge.load(path, apply_tuning=False)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.self_test().passed
    assert [p.name for p in path.parent.iterdir()] == ["simple.pt2"]  # no staged file left behind


@pytest.mark.aoti
def test_a_budget_that_fits_them_builds_checks_and_times_every_compile_variant(tmp_path):
    # One export that compiles all four .pt2 builds (max-autotune with Inductor's C++ GEMM template among them).
    torch.manual_seed(0)
    model, x = MLP().eval(), torch.randn(3, 16)
    path = tmp_path / "mlp.pt2"
    tsbridge.export(model, x, path, format="aoti", tune=True, tune_budget_seconds=600)
    record = manifest_of(path)["tuning"]
    statuses = {}
    for c in record["candidates"]:
        statuses.setdefault(c["build"], set()).add(c["status"])
    assert set(statuses) == {"default", "no-freezing", "prepack-on", "max-autotune"}, statuses
    assert all(s == {"ok"} for s in statuses.values()), statuses
    assert all(c["us_per_call"] > 0 for c in record["candidates"])
    loaded = tsbridge.load(path, apply_tuning=False)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.self_test().passed
    assert [p.name for p in path.parent.iterdir()] == ["mlp.pt2"]


@pytest.mark.aoti
def test_tsrun_tune_on_a_pt2_tunes_runners_for_concurrent_callers(package, tmp_path, tsrun_path):
    path = tmp_path / "simple.pt2"
    shutil.copy(package[2], path)
    result = tsrun(tsrun_path, path, "--tune", "--tune-budget", BUDGET, "--tune-clients", 2, "--json")
    assert result.returncode == 0, result.stderr
    names = [c["name"] for c in json.loads(result.stdout)["tuning"]["candidates"]]
    assert "aoti runners=1 threads=1" in names and "aoti runners=2 threads=1" in names
    info = json.loads(tsrun(tsrun_path, path, "--info", "--json").stdout)["tuning"]
    assert info["source"] == "sidecar" and info["applied"]["runners"] == info["recorded"]["runners"] >= 1
    assert tsrun(tsrun_path, path, "--selftest").returncode == 0
