"""Devices: a case records the device its tensors were on; a device-independent claim is
measured once; one GPU per xdist worker; the TF32 and determinism switches.

No GPU is needed: :class:`cuda_helpers.FakeCuda` makes torch report CUDA devices while
every tensor stays on the CPU, and logs each tensor a test puts on a CUDA device.
"""

from __future__ import annotations

import json
import re
import types
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import torch
from cuda_helpers import FakeCuda

from gradbench import claims, devices
from gradbench.claims import counts_at_case_level
from gradbench.errors import InvalidArgument
from gradbench.machine import environment
from gradbench.plugin.devices import pinned

pytest_plugins = ["pytester"]

SUITES = Path(__file__).resolve().parents[1] / "suites"

# One test of each way a suite measures: a device-independent remedy claim, exact
# (activation_backward) and statistical (activation_moments, initializer_variance); remedy
# claims measured on a device through training (optimizers) and through the probe
# (stable_as_declared); a plain test with run_claim (clip_by_value) and one that records
# with gradbench_record (gated RNN).
SELECTION = ("(test_activation_backward and [relu-) or (test_activation_moments and [tanh-) "
             "or (test_initializer_variance and he_normal) or (test_initializer_stability and "
             "he_normal) or (test_optimizer_first_step and [sgd-) or test_clip_by_value or "
             "(test_gated_rnn_decay_measured and lstm)")


def _params(case_id: str) -> list[str]:
    return re.search(r"\[(.*)\]", case_id).group(1).split("-")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, FakeCuda, str]:
    """The selection run with ``--gradbench-devices=cpu,cuda`` on one fake GPU."""
    folder = tmp_path_factory.mktemp("fake_cuda")
    fake = FakeCuda(count=1)

    class Label:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(self, item: pytest.Item):  # type: ignore[no-untyped-def]
            fake.label[0] = item.nodeid.rsplit("/", 1)[-1]  # test_x.py::test[params]
            try:
                return (yield)
            finally:
                fake.label[0] = ""

    out = folder / "run.json"
    with pytest.MonkeyPatch.context() as mp, fake.active(mp):
        mp.chdir(folder)
        code = pytest.main([str(SUITES), f"--rootdir={SUITES}", "-p", "no:cacheprovider",
                            "-p", "no:xdist", "-q", "-k", SELECTION,
                            "--gradbench-devices=cpu,cuda", f"--gradbench-json={out}"],
                           plugins=[Label()])
    assert code in (0, 1), f"pytest exit {code}"
    return json.loads(out.read_text()), fake, str(out)


def test_a_case_records_the_device_its_tensors_were_put_on(fake_run) -> None:
    doc, fake, _ = fake_run
    cases = [b["extra_info"]["gradbench"] for b in doc["benchmarks"]]
    placed = defaultdict(set)
    for label, device in fake.placements:
        placed[label].add(device)
    assert placed, "nothing was put on the fake GPU"
    recorded = Counter()
    for case in cases:
        test = case["case"].split("#")[0].removeprefix("suites/")
        device = case["env"]["device"]
        recorded[device] += 1
        if device == "cuda":
            assert placed[test] == {"cuda"}, case["case"]
            assert "cuda" in _params(case["case"])
            assert case["env"]["gpu"] == "fake GPU"
        else:
            assert device == "cpu", case["case"]
            assert not placed[test], f"{case['case']} put tensors on {placed[test]}"
    assert recorded["cuda"] > 0
    assert recorded["cpu"] > recorded["cuda"]


def test_device_independent_claims_are_measured_once(fake_run) -> None:
    doc, _, _ = fake_run
    cases = [b["extra_info"]["gradbench"] for b in doc["benchmarks"]]
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in cases:
        key = re.sub(r"-?\bcuda\b|-?\bcpu\b", "", case["case"])
        seen[(case["claim"], key)].append(case["env"]["device"])
    by_claim: dict[bool, set[str]] = defaultdict(set)
    for (claim, key), where in seen.items():
        # gated_rnn_decay is not a registered claim: its test measures on gradbench_device
        on_device = claim not in claims.CLAIMS or claims.get_claim(claim).on_device
        by_claim[on_device].add(claim)
        assert sorted(where) == (["cpu", "cuda"] if on_device else ["cpu"]), (claim, key, where)
    assert {"activation_backward", "activation_moments", "initializer_variance"} <= by_claim[False]
    assert {"optimizer_first_step", "stable_as_declared", "clip_by_value",
            "gated_rnn_decay"} <= by_claim[True]
    assert len(cases) > 40
    # the family-wise budget counts a device-independent statistical case once, on the cpu
    statistical = [c for c in cases if counts_at_case_level(c["verdict"])
                   and not claims.get_claim(c["claim"]).on_device]
    assert {c["claim"] for c in statistical} >= {"activation_moments", "initializer_variance"}
    assert all(c["env"]["device"] == "cpu" and "cuda" not in _params(c["case"])
               for c in statistical)


def test_the_documented_split_is_the_registry_s() -> None:
    """docs/design.md §7 lists the claims measured on a device; so does the registry."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "design.md").read_text()
    section = text.split('<a id="s7"></a>', 1)[1]
    bullets = re.findall(r"^\* \*\*(.+?)\*\*:(.*?)(?=^\* |^$)", section, re.M | re.S)
    named = {title: set(re.findall(r"`(\w+)`", body)) for title, body in bullets}
    on, off = named["On the device"], named["Device-independent"]
    assert on == {c.name for c in claims.CLAIMS.values() if c.on_device}
    assert off == {c.name for c in claims.CLAIMS.values() if not c.on_device}


# --------------------------------------------------------------------------------------
# One GPU per xdist worker
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("worker", "gpus", "want"), [
    ("gw0", 2, "cuda:0"), ("gw1", 2, "cuda:1"), ("gw2", 2, "cuda:0"), ("gw5", 4, "cuda:1"),
    (None, 2, "cuda"),  # no xdist: torch's current device
])
def test_each_worker_is_pinned_to_its_gpu(worker, gpus, want, monkeypatch) -> None:
    fake = FakeCuda(count=gpus)
    config = types.SimpleNamespace(workerinput={"workerid": worker} if worker else None)
    with fake.active(monkeypatch):
        assert pinned(config, "cuda") == want  # type: ignore[arg-type]
        assert pinned(config, "cuda:1") == "cuda:1"  # an explicit index is kept
        assert pinned(config, "cpu") == "cpu"
    if want != "cuda":
        assert fake.current == 1  # the last call: cuda:1 made current


@pytest.mark.integration
def test_workers_run_their_cases_on_their_own_gpu(pytester: pytest.Pytester) -> None:
    """``--devices cuda -n 3`` on 2 (fake) GPUs: worker K records cuda:(K mod 2)."""
    tests_dir = Path(__file__).resolve().parent
    pytester.makeconftest(f"""
import sys
sys.path.insert(0, {str(tests_dir)!r})
import pytest
from cuda_helpers import FakeCuda

# for the whole process: the plugin checks for CUDA before any fixture runs
FakeCuda(count=2).active(pytest.MonkeyPatch()).__enter__()
""")
    pytester.makepyfile(test_pin="""
import os
import pytest

@pytest.mark.parametrize("i", range(12))
def test_pin(i, gradbench_device, gradbench_record):
    gradbench_record(claim="pin", spec="s", extra={"worker": os.environ["PYTEST_XDIST_WORKER"]})
""")
    result = pytester.runpytest_subprocess("-n", "3", "-p", "no:cacheprovider",
                                           "--gradbench-devices=cuda", "--gradbench-json=r.json")
    assert result.ret == 0, result.stdout.str()
    doc = json.loads((pytester.path / "r.json").read_text())
    seen = {(c["extra"]["worker"], c["env"]["device"])
            for c in (b["extra_info"]["gradbench"] for b in doc["benchmarks"])}
    workers = {w for w, _ in seen}
    assert len(workers) >= 2
    assert seen == {(w, f"cuda:{int(w[2:]) % 2}") for w in workers}


# --------------------------------------------------------------------------------------
# Device names and the numerics switches
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "tpu", "cuda:x", "cpu,gpu", " , "])
def test_bad_device_lists_are_rejected(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"devices .* are invalid; valid choices: cpu, cuda"):
        devices.parse_devices(text)


def test_numerics_switches_set_and_restore() -> None:
    before = environment("cpu")
    restore = devices.set_numerics(tf32=not before["tf32_matmul"], deterministic=True)
    try:
        env = environment("cpu")
        assert env["tf32_matmul"] is env["tf32_cudnn"] is (not before["tf32_matmul"])
        assert env["deterministic"] is env["cudnn_deterministic"] is True
        assert env["cudnn_benchmark"] is False
    finally:
        restore()
    assert environment("cpu") == before


@pytest.mark.parametrize(("option", "key", "value"), [
    ("--gradbench-tf32=on", "tf32_matmul", True), ("--gradbench-tf32=off", "tf32_cudnn", False),
    ("--gradbench-deterministic=on", "deterministic", True),
])
def test_options_set_the_flags_the_cases_record(pytester, option, key, value) -> None:
    before = environment("cpu")
    pytester.makepyfile(test_flags="""
def test_flags(gradbench_record):
    gradbench_record(claim="flags", spec="s")
""")
    result = pytester.runpytest_inprocess(option, "-p", "no:cacheprovider",
                                          "--gradbench-json=r.json")
    assert result.ret == 0, result.stdout.str()
    env = json.loads((pytester.path / "r.json").read_text())["benchmarks"][0]["extra_info"][
        "gradbench"]["env"]
    assert env[key] is value
    assert environment("cpu") == before  # the session put the flags back


def test_a_bad_switch_value_is_one_sentence(pytester) -> None:
    result = pytester.runpytest_inprocess("--gradbench-tf32=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gradbench-tf32='maybe' is invalid; valid choices: on, off*"])


def test_cli_passes_devices_and_switches_to_validate(monkeypatch) -> None:
    from gradbench import cli, validate

    seen = {}

    def fake_validate(target, **kwargs):
        seen.update(kwargs)
        raise InvalidArgument("stop here")

    monkeypatch.setattr(validate, "validate", fake_validate)
    code = cli.main(["validate", "torch.nn.init:kaiming_normal_", "--devices", "cpu,cuda",
                     "--tf32", "off", "--deterministic", "on"])
    assert code == 2
    assert seen["devices"] == "cpu,cuda"
    assert seen["plugin_args"] == ["--gradbench-tf32=off", "--gradbench-deterministic=on"]


def test_steps_taken_runs_on_the_device_it_is_given(monkeypatch) -> None:
    from gradbench.specs import MLPSpec
    from gradbench.training import TrainSpec, steps_taken

    fake = FakeCuda()
    fake.label[0] = "steps"
    with fake.active(monkeypatch):
        steps = steps_taken(MLPSpec(depth=2, width=4), TrainSpec(optimizer="adam", steps=2),
                            seeds=2, device="cuda")
    assert len(steps) == 2
    assert ("steps", "cuda") in fake.placements
    assert torch.isfinite(steps[1]["delta"]["W0"]).all()


def test_a_plain_test_measures_a_device_independent_claim_once(pytester, monkeypatch) -> None:
    """``run_claim`` in a test without ``for_each``: its cuda case skips, saying why."""
    pytester.makepyfile(test_plain="""
def test_plain(run_claim):
    run_claim("initializer:he_normal", "initializer_variance", fan_in=64, fan_out=64)
""")
    with FakeCuda().active(monkeypatch):
        result = pytester.runpytest_inprocess("--gradbench-devices=cpu,cuda", "-rs",
                                              "-p", "no:cacheprovider", "--gradbench-json=r.json")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*initializer_variance' does not depend on the device: it is "
                                 "measured once, on cpu, in this test's cpu case*"])
    doc = json.loads((pytester.path / "r.json").read_text())
    assert [b["extra_info"]["gradbench"]["env"]["device"] for b in doc["benchmarks"]] == ["cpu"]


def test_cuda_on_a_machine_without_it_is_a_usage_error(monkeypatch) -> None:
    """``gradbench run/validate --devices cuda`` without CUDA stops before any test runs."""
    import torch

    from gradbench.devices import require_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InvalidArgument, match=r"^--devices cpu,cuda:1 asks for CUDA, which is "
                       r"not available on this machine \(torch .*\); use --devices cpu"):
        require_devices("cpu,cuda:1")
    assert require_devices("cpu") == ("cpu",)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert require_devices("cpu,cuda") == ("cpu", "cuda")
