"""``gradbench validate``: the suites with a candidate substituted, judged by the claims.

Each run is a real ``gradbench validate`` subprocess on user remedies written the way
users write them (a module beside the command), restricted with ``-k`` to the claims
under test so the unit run stays short; ``tests/quality/test_acceptance.py`` runs the
whole quick validation of the acceptance remedies (slow).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gradbench import registry
from gradbench.candidate import check_target, infer_kind, register_target, resolve_target
from gradbench.errors import InvalidArgument

MODULE = textwrap.dedent('''
    import math
    import torch


    def my_he(w, *, generator):
        """He initialization written by hand: W_ij ~ N(0, 2 / fan_in)."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


    my_he.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                            "distribution": "normal", "stable_for": [{"activation": "relu"}]}


    def bad_he(w, *, generator):
        """N(0, 6 / fan_in): per-layer growth sqrt(3) with ReLU."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(6.0 / w.shape[1]), generator=generator)


    def buggy_he(w, *, generator):
        """N(0, 6 / fan_in) while declaring He's 2 / fan_in."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(6.0 / w.shape[1]), generator=generator)


    buggy_he.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                               "distribution": "normal", "stable_for": [{"activation": "relu"}]}


    def fan_out_he(w, *, generator):
        """Declares He's 2 / fan_in, and no distribution, but draws 2 / fan_out."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[0]), generator=generator)


    fan_out_he.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in}


    def misdeclared_he(w, *, generator):
        """A correct He, declaring a distribution gradbench does not know."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


    misdeclared_he.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                                     "distribution": "gaussian"}


    def timid_he(w, *, generator):
        """Declares He's variance but draws 90% of it."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(0.9 * 2.0 / w.shape[1]), generator=generator)


    timid_he.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                               "distribution": "normal"}


    def raising_init(w, *, generator):
        raise RuntimeError("this initializer is broken")


    class _BadSwish(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = torch.sigmoid(x)
            ctx.save_for_backward(s)
            return x * s

        @staticmethod
        def backward(ctx, g):
            (s,) = ctx.saved_tensors
            return g * s  # drops the x s (1 - s) term


    def bad_swish(x):
        return _BadSwish.apply(x)


    def xavier_tanh(w, *, generator):
        """torch's recommended tanh gain 5/3."""
        torch.nn.init.xavier_normal_(w, gain=5 / 3, generator=generator)


    xavier_tanh.gradbench_meta = {"stable_for": [{"activation": "tanh"}]}


    def narrow(w, *, generator):
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


    narrow.gradbench_claims = ["initializer_variance"]


    def only_variance(w, *, generator):
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


    only_variance.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                                    "distribution": "normal"}
    only_variance.gradbench_claims = ["initializer_variance"]

    not_a_remedy = 3
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder holding ``user_remedies.py``."""
    (tmp_path / "user_remedies.py").write_text(MODULE)
    return tmp_path


def validate(project: Path, target: str, *args: str) -> tuple[int, str, dict | None]:
    """Run ``gradbench validate`` in ``project``; ``(exit code, output, results JSON)``."""
    proc = subprocess.run(
        [sys.executable, "-m", "gradbench", "validate", target, "--out-dir", "out", *args],
        cwd=project, capture_output=True, text=True, timeout=600,
    )
    files = sorted((project / "out").glob("*.json")) if (project / "out").is_dir() else []
    doc = json.loads(files[-1].read_text()) if files else None
    return proc.returncode, proc.stdout + proc.stderr, doc


def candidate_verdicts(doc: dict) -> dict[str, list[bool]]:
    out: dict[str, list[bool]] = {}
    for bench in doc["benchmarks"]:
        case = bench["extra_info"]["gradbench"]
        if case.get("remedy", {}).get("origin") == "candidate" and case["verdict"]:
            out.setdefault(case["claim"], []).append(case["verdict"]["passed"])
    return out


@pytest.mark.integration
def test_correct_hand_written_he_passes_its_declared_claims(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:my_he", "-k",
                              "initializer_variance or initializer_law or stability")
    assert code == 0, out
    verdicts = candidate_verdicts(doc)
    assert set(verdicts) >= {"initializer_variance", "initializer_distribution",
                             "stable_as_declared"}
    assert all(all(v) for v in verdicts.values())
    assert doc["gradbench"]["candidate"] == ["initializer", "my_he"]
    assert "candidate 'my_he' (initializer): every claim holds (" in out
    assert "cases) (exit code 0)" in out
    assert (project / "out").glob("*.html")


@pytest.mark.integration
def test_exploding_initializer_declaring_nothing_fails_stable_somewhere(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:bad_he", "-k", "stability")
    assert code == 1, out
    assert candidate_verdicts(doc)["stable_somewhere"] == [False]
    assert "claim stable_somewhere FAILS" in out
    assert "configuration: family='mlp', depth=30" in out  # the configuration that failed


@pytest.mark.integration
def test_a_wrong_backward_disagrees_with_theory_at_the_critical_point(project: Path) -> None:
    """At SiLU's critical initialization, computed from the forward (docs/theory.md §9.3), the
    backward that drops x s (1 - s) shrinks gradients x0.94 per layer; correct GELU and SiLU
    pass (tests/test_claims.py, and the whole validation in tests/quality/test_acceptance.py)."""
    code, out, doc = validate(project, "user_remedies:bad_swish", "-k", "stability")
    assert code == 1, out
    assert candidate_verdicts(doc)["stable_somewhere"] == [False]
    assert "DISAGREES" in out
    assert "is the backward the derivative of the forward" in out


@pytest.mark.integration
def test_xavier_gain_five_thirds_declared_for_tanh_fails_in_plain_words(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:xavier_tanh", "-k", "stability")
    assert code == 1, out
    assert candidate_verdicts(doc)["stable_as_declared"] == [False]
    assert re.search(r"gradients grow x1\.\d\d per layer, x1\d over the 29 layer-to-layer steps "
                     r"of depth 30 \(exploding\)", out), out
    assert 'gradbench_meta = {"stable_for": [' in out


@pytest.mark.integration
def test_a_buggy_initializer_names_each_failed_claim_once_at_its_shrunk_configuration(
    project: Path,
) -> None:
    """The whole quick validation of a wrong He init: under 200 lines, one explanation per
    failed claim at the smallest configuration, counts by claim, no traceback through
    gradbench's code, and no false-alarm warning from cases the failures added."""
    code, out, doc = validate(project, "user_remedies:buggy_he")
    assert code == 1, out
    assert len(out.splitlines()) < 200, out
    failed = {"initializer_variance", "initializer_distribution", "mean_field_slope",
              "stable_as_declared"}
    blocks = sorted(line.split()[1] for line in out.splitlines() if line.startswith("claim "))
    assert blocks == sorted(failed), out  # one explanation per failed claim
    assert out.count("configuration: kind='initializer', remedy='buggy_he', fan_in=96, "
                     "fan_out=96, seed=0") == 2  # the smallest fans the suites draw
    assert "configuration: family='mlp', depth=5, width=256, activation='relu', " in out
    assert "candidate 'buggy_he' (initializer): 4 claims failed in 4 of 4 cases" in out
    assert "  buggy_he (candidate)" in out  # the closing table
    for noise in ("Traceback", "def run(", "check_case", "Falsifying example", "more than the"):
        assert noise not in out
    assert {c: v.count(False) for c, v in candidate_verdicts(doc).items()} == dict.fromkeys(
        failed, 1)


@pytest.mark.integration
def test_declared_variance_drawn_at_ninety_percent_fails_the_variance_claim(
    project: Path,
) -> None:
    code, out, doc = validate(project, "user_remedies:timid_he", "-k", "initializer_variance")
    assert code == 1, out
    assert not any(candidate_verdicts(doc)["initializer_variance"])
    assert "claim initializer_variance FAILS for timid_he: predicted" in out


@pytest.mark.integration
def test_a_declared_variance_is_checked_without_a_declared_distribution(project: Path) -> None:
    """The variance claim needs no distribution (it then takes the entries' own kurtosis):
    a fan-in/fan-out mix-up fails it, where it used to pass unchecked."""
    code, out, doc = validate(project, "user_remedies:fan_out_he", "-k", "initializer_variance")
    assert code == 1, out
    assert not all(candidate_verdicts(doc)["initializer_variance"])
    assert "entries of measured kurtosis" in out


@pytest.mark.integration
def test_an_invalid_declaration_is_one_sentence_and_exit_2(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:misdeclared_he")
    assert code == 2, out
    assert out.strip().splitlines()[-1] == (
        "gradbench: error: initializer 'misdeclared_he' declares distribution='gaussian', which "
        "is invalid: valid choices: deterministic, identity, normal, orthogonal, uniform")
    assert doc is None


@pytest.mark.integration
def test_a_remedy_that_raises_is_a_failed_claim_not_a_crash(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:raising_init", "--kind", "initializer",
                              "-k", "stability")
    assert code == 1, out
    assert "RemedyFailed" in out or "RuntimeError: this initializer is broken" in out
    assert doc is not None


@pytest.mark.integration
def test_a_test_that_errors_outside_its_claims_is_not_a_pass(project: Path) -> None:
    """A suite test that fails outside its claims (here its setup raises, through a pytest
    plugin on the command line) measured nothing: validate names it (the run's note) and
    exits 1, although every recorded claim holds. Before, it said "every claim holds" with
    exit 0 under pytest's error."""
    (project / "breaker.py").write_text(textwrap.dedent('''
        seen = []

        def pytest_runtest_setup(item):
            seen.append(item.nodeid)
            if len(seen) == 2:
                raise RuntimeError("the second test's setup broke")
    '''))
    code, out, doc = validate(project, "user_remedies:my_he", "-k", "initializer_variance",
                              "-p", "breaker")
    assert code == 1, out
    assert doc is not None
    assert all(all(v) for v in candidate_verdicts(doc).values())
    closing = out.strip().splitlines()[-4:]
    assert closing[0].startswith("incomplete: 1 test failed outside its claims, so what it "
                                 "should have measured may be missing"), closing
    assert "test_initializer_variance[" in closing[0]
    assert re.match(r"gradbench validate: candidate 'my_he' \(initializer\): not validated "
                    r"\(\d+ cases recorded\) \(exit code 1\)$", closing[1]), closing


@pytest.mark.integration
def test_activation_with_a_wrong_custom_backward_fails_activation_backward(
    project: Path,
) -> None:
    code, out, doc = validate(project, "user_remedies:bad_swish", "-k", "backward")
    assert code == 1, out
    assert candidate_verdicts(doc)["activation_backward"] == [False] * len(
        candidate_verdicts(doc)["activation_backward"])


@pytest.mark.integration
def test_named_claims_are_the_only_ones_the_candidate_meets(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:only_variance", "--kind", "initializer",
                              "-k", "initializer_variance or initializer_law or stability")
    assert code == 0, out
    assert set(candidate_verdicts(doc)) == {"initializer_variance"}


@pytest.mark.integration
def test_declared_claims_narrow_the_run(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:narrow", "--kind", "initializer", "-k",
                              "initializer_variance or initializer_law or stability")
    assert code == 2, out  # the declared claim needs a declared variance: usage error
    assert "does not apply" in out
    assert doc is None


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("user_remedies:not_a_remedy", "is a int, not a callable remedy"),
        ("user_remedies:missing", "has no attribute 'missing'"),
        ("no_such_module:x", "module 'no_such_module' not found"),
        ("no_such_remedy", "is not a registered remedy and not an import path"),
    ],
)
@pytest.mark.integration
def test_bad_targets_are_one_sentence_and_exit_2(project: Path, target: str,
                                                 message: str) -> None:
    code, out, doc = validate(project, target)
    assert code == 2
    assert message in out
    assert "Traceback" not in out
    assert doc is None


@pytest.mark.integration
def test_a_selection_that_matches_no_test_says_so_in_words(project: Path) -> None:
    code, out, doc = validate(project, "user_remedies:my_he", "-k", "nosuchclaim")
    assert code == 2
    assert out.rstrip().splitlines()[-1] == (
        "gradbench: error: the validation run of 'user_remedies:my_he' wrote no results (no "
        "test was selected by '-k nosuchclaim')")
    assert doc is None


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        (torch.nn.init.kaiming_normal_, "initializer"),
        (torch.nn.init.orthogonal_, "initializer"),
        (torch.nn.functional.mish, "activation"),
        (torch.tanh, "activation"),
        (torch.optim.Adam, "optimizer"),
        (lambda params: torch.optim.SGD(params, lr=0.1), "optimizer"),
        (lambda h: (h - h.mean(-1, keepdim=True)) / h.std(-1, keepdim=True), "normalization"),
        (lambda layer, depth: depth**-0.5, "residual"),
    ],
    ids=["kaiming_normal_", "orthogonal_", "mish", "tanh", "Adam", "sgd_factory", "layernorm",
         "inv_sqrt_depth"],
)
def test_kind_is_inferred_where_unambiguous(obj: object, kind: str) -> None:
    assert infer_kind(obj, "x") == kind


def test_uninferable_kind_names_the_valid_choices() -> None:
    with pytest.raises(InvalidArgument,
                       match=r"set its attribute gradbench_kind \(valid choices: activation, "
                       r"initializer, normal"):
        infer_kind(lambda: 3, "user:thing")


def test_a_model_or_block_factory_where_a_remedy_is_needed_is_told_what_it_is() -> None:
    """`gradbench validate mymodel:resnet` (a factory model(*, generator)) said 'calling it
    as an initializer ... raised TypeError: resnet() takes 0 positional arguments' with valid
    kinds that do not include a model; `run --remedy` of a block factory said the same. Each
    is now told what it is and where it goes."""
    def resnet(*, generator, depth=20):
        return torch.nn.Identity()

    def block(width, *, layer, depth, generator):
        return torch.nn.Identity()

    with pytest.raises(InvalidArgument, match=r"^'m:resnet' takes only keywords, as a model "
                       r"factory model\(\*, generator\) does, .*check a whole model from "
                       r"Python with gb\.check\(model, blocks="):
        infer_kind(resnet, "m:resnet")
    with pytest.raises(InvalidArgument, match=r"^'m:block' is a block factory, not a remedy: "
                       r"measure it with gradbench validate m:block \(docs/blocks\.md\)$"):
        infer_kind(block, "m:block")


def test_pytest_arguments_for_a_block_are_refused_not_ignored(tmp_path: Path,
                                                             monkeypatch) -> None:
    """`validate myblocks:pre_ln -k foo` measured the whole block and exited 0, the selection
    silently ignored (a block runs no suite); it is one sentence, exit 2, nothing written."""
    from gradbench.validate import validate

    (tmp_path / "user_blocks.py").write_text(
        "import torch\n"
        "def block(width, *, layer, depth, generator):\n    return torch.nn.Identity()\n")
    monkeypatch.chdir(tmp_path)
    for extra in ({"pytest_args": ["-k", "foo"]}, {"suites": "my_suites"}):
        with pytest.raises(InvalidArgument, match=r"^'(-k foo|--suites my_suites)' does not "
                           r"apply to the block 'user_blocks:block': a block is measured "
                           r"without the suites or pytest "):
            validate("user_blocks:block", out_dir=tmp_path / "out", **extra)
    assert not (tmp_path / "out").exists()


def test_a_block_factory_given_a_remedy_kind_is_refused_before_the_run(
        tmp_path: Path, monkeypatch) -> None:
    """`validate myblocks:pre_ln --kind initializer` ran the initializer suites on a block
    factory and failed stable_somewhere with its TypeError (exit 1); it is bad input."""
    from gradbench.validate import validate

    (tmp_path / "user_blocks.py").write_text(
        "import torch\n"
        "def block(width, *, layer, depth, generator):\n    return torch.nn.Identity()\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument, match=r"^'user_blocks:block' is a block factory, not a "
                       r"remedy: measure it with gradbench validate user_blocks:block "):
        validate("user_blocks:block", kind="initializer", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_register_target_registers_measured_variance_and_declarations(project: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(project))
    _, name = register_target("user_remedies:bad_he")
    try:
        remedy = registry.lookup("initializer", name)
        assert remedy.meta["variance_measured"]
        assert abs(remedy.meta["variance"](400, 300) * 400 - 6.0) < 0.2
        assert resolve_target("user_remedies:bad_he") == ("initializer", f"{name}_candidate")
    finally:
        registry.unregister("initializer", name)


def test_an_initializer_without_a_generator_argument_is_drawn_reproducibly() -> None:
    """torch.nn.init.eye_ takes no generator; a global-RNG initializer is seeded from ours
    and leaves the caller's global generator where it was."""
    import torch

    from gradbench.candidate import seeded_initializer

    _, name = register_target("torch.nn.init:eye_")
    try:
        w = torch.empty(5, 7, dtype=torch.float64)
        registry.lookup("initializer", name).fn(w, generator=torch.Generator().manual_seed(3))
        assert torch.equal(w, torch.eye(5, 7, dtype=torch.float64))
    finally:
        registry.unregister("initializer", name)

    def global_normal(w):
        with torch.no_grad():
            w.normal_()

    fn = seeded_initializer(global_normal)
    torch.manual_seed(11)
    state = torch.get_rng_state()
    a, b, c = (torch.empty(64) for _ in range(3))
    fn(a, generator=torch.Generator().manual_seed(1))
    fn(b, generator=torch.Generator().manual_seed(1))
    fn(c, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(("target", "declared"), [
    ("torch.nn.init:eye_", {"distribution": "deterministic"}),
    ("torch.nn.init:uniform_", {"centred": False}),
    ("torch.nn.init:kaiming_normal_", {}),
])
def test_theory_is_not_applied_to_weights_it_does_not_describe(target, declared) -> None:
    """Mean field assumes i.i.d. zero-mean weights: a deterministic or off-centre draw
    gets no prediction (so no mean-field verdict), a centred random one does."""
    from gradbench import theory
    from gradbench.specs import MLPSpec

    _, name = register_target(target)
    try:
        meta = registry.lookup("initializer", name).meta
        assert {k: meta[k] for k in declared} == declared
        assert "centred" not in meta or declared
        prediction = theory.predict(MLPSpec(depth=4, width=64, activation="relu", init=name))
        assert prediction.valid == (not declared), prediction.reason
    finally:
        registry.unregister("initializer", name)


@pytest.mark.parametrize("form", ["relative", "absolute", "module"])
def test_a_remedy_file_can_be_named_by_its_path(project: Path, monkeypatch, form: str) -> None:
    """`validate ./user_remedies.py:my_he`, an absolute path, or the module name."""
    monkeypatch.chdir(project)
    target = {"relative": "./user_remedies.py:my_he",
              "absolute": f"{project / 'user_remedies.py'}:my_he",
              "module": "user_remedies:my_he"}[form]
    kind, name = register_target(target)
    try:
        assert (kind, name) == ("initializer", "my_he")
        assert registry.lookup("initializer", name).meta["distribution"] == "normal"
    finally:
        registry.unregister("initializer", name)


@pytest.mark.parametrize("stem", ["json", "random", "gradbench"])
def test_a_file_path_loads_that_file_not_a_module_of_the_same_name(project: Path, monkeypatch,
                                                                   stem: str) -> None:
    """`validate ./d/json.py:my_he` imported the standard library's json (found by a user)."""
    (project / "d").mkdir()
    (project / "d" / f"{stem}.py").write_text(MODULE)
    monkeypatch.chdir(project)
    kind, name = register_target(f"./d/{stem}.py:my_he")
    registry.unregister(kind, name)
    assert (kind, name) == ("initializer", "my_he")


def test_a_file_path_shadowing_a_module_validates_end_to_end(project: Path) -> None:
    """The run's plugin imports the target again: it must load the same file."""
    (project / "d").mkdir()
    (project / "d" / "json.py").write_text(MODULE)
    code, out, _ = validate(project, "./d/json.py:my_he", "-k", "my_he-initializer_variance")
    assert code == 0, out
    assert "candidate 'my_he' (initializer): every claim holds" in out


def test_a_remedy_given_as_an_instance_is_named_by_its_attribute(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """`mish = torch.nn.Mish()` was registered, and its report file named, 'candidate'."""
    (tmp_path / "user_acts.py").write_text("import torch\nmy_mish = torch.nn.Mish()\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_target("user_acts:my_mish") == ("activation", "my_mish")


def test_a_lambda_or_a_partial_is_named_by_its_attribute(tmp_path: Path, monkeypatch) -> None:
    """`act = lambda x: torch.tanh(x)` was registered, and its report file named, '<lambda>'
    ('validate-lambda.json'); a lambda and a functools.partial are named by the attribute."""
    (tmp_path / "user_lambdas.py").write_text(
        "import functools, torch\n"
        "act = lambda x: torch.tanh(x)\n"
        "def _leaky(x, slope):\n    return torch.nn.functional.leaky_relu(x, slope)\n"
        "leaky = functools.partial(_leaky, slope=0.1)\n"
        "def block(width, *, layer, depth, generator):\n    return torch.nn.Identity()\n"
        "res_lambda = lambda width, *, layer, depth, generator: torch.nn.Identity()\n"
        "res_partial = functools.partial(block)\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_target("user_lambdas:act") == ("activation", "act")
    assert resolve_target("user_lambdas:leaky") == ("activation", "leaky")
    for attr in ("block", "res_lambda", "res_partial"):  # the names validate_block uses
        target = f"user_lambdas:{attr}"
        assert registry.object_name(registry.import_object(target), target) == attr


FITS = """
import math
def reduces(x):
    return x.sum(-1, keepdim=True)
def nan_act(x):
    return x * math.nan
def text_scale(layer, depth):
    return "a"
def fixed_lr_sgd(params):
    import torch
    return torch.optim.SGD(params, lr=0.1)
def no_optimizer(params, *, lr=1e-3):
    return None
def preln(depth):
    return {"placement": "preln"}
def negative_skip(depth):
    return {"skip_scale": -1.0 if depth > 1 else 1.0}
import torch as _torch
class StepSGD(_torch.optim.SGD):
    def __init__(self, params, step_size=0.1):
        super().__init__(params, lr=step_size)
"""


@pytest.mark.parametrize(("target", "kind", "words"), [
    ("fits:reduces", "activation", r"activation 'reduces' returned \(1,\) for an input of "
     r"shape \(416,\)$"),
    ("torch.nn:Mish", "activation", r"activation 'Mish' returned Mish for an input of shape "
     r"\(416,\); it is a class: name an instance of it$"),
    ("fits:reduces", "normalization", r"normalization 'reduces' returned \(4, 1\)"),
    ("fits:text_scale", "residual", r"residual scaling 'text_scale' returned a str, not a number$"),
    ("fits:fixed_lr_sgd", "optimizer", r"optimizer 'fixed_lr_sgd' takes no lr keyword; an "
     r"optimizer is fn\(params, \*, lr=\.\.\.\) -> torch\.optim\.Optimizer, or an Optimizer "
     r"class$"),
    ("fits:no_optimizer", "optimizer", r"optimizer 'no_optimizer' returned a NoneType, not a "
     r"torch\.optim\.Optimizer$"),
    ("fits:preln", "depth_scheme", r"depth scheme 'preln' at depth=1: TransformerSpec\."
     r"placement='preln' is invalid: did you mean 'pre'\? valid choices: none, post, pre$"),
    ("fits:negative_skip", "depth_scheme", r"depth scheme 'negative_skip' at depth=4: "
     r"TransformerSpec\.skip_scale=-1\.0 is invalid: must be a finite number >= 0$"),
    # an Optimizer class is an optimizer's documented form: not told to name an instance
    ("fits:StepSGD", "optimizer", r"optimizer 'StepSGD' takes no lr keyword; an optimizer is "
     r"fn\(params, \*, lr=\.\.\.\) -> torch\.optim\.Optimizer, or an Optimizer class$"),
], ids=["activation-shape", "activation-class", "normalization-shape", "residual-type",
        "optimizer-without-lr", "optimizer-returns-none", "scheme-bad-placement",
        "scheme-negative-scale", "optimizer-class-without-lr"])
def test_a_remedy_whose_output_does_not_fit_its_kind_is_refused_before_the_run(
        tmp_path: Path, monkeypatch, target: str, kind: str, words: str) -> None:
    """`validate acts3:reduces --kind activation` crashed the collection (theory calls the
    activation) with an 80-line traceback and 'wrote no results (pytest exit status 2)'."""
    (tmp_path / "fits.py").write_text(FITS)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument, match=rf"^{re.escape(repr(target))} cannot be validated "
                       rf"as {kind}: {words}"):
        register_target(target, kind)


def test_a_misfit_activation_exits_2_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "fits.py").write_text(FITS)
    code, out, doc = validate(tmp_path, "fits:reduces", "--kind", "activation")
    assert (code, doc) == (2, None), out
    assert out.strip().splitlines() == ["gradbench: error: 'fits:reduces' cannot be validated "
                                        "as activation: activation 'reduces' returned (1,) for "
                                        "an input of shape (416,)"]


def test_an_activation_returning_nan_fails_its_claims_not_the_collection(tmp_path: Path) -> None:
    """As documented (docs/remedies.md, "Validate it"); theory calls it while the tests are
    collected."""
    (tmp_path / "fits.py").write_text(FITS)
    code, out, doc = validate(tmp_path, "fits:nan_act", "--kind", "activation",
                              "-k", "nan_act-activation_backward")
    assert code == 1, out
    assert "ERROR collecting" not in out
    assert doc is not None
    assert "returned NaN or inf for finite inputs" in out


def test_a_module_that_raises_on_import_is_one_sentence_with_the_error(tmp_path: Path,
                                                                       monkeypatch) -> None:
    (tmp_path / "broken_remedies.py").write_text("raise ValueError('bad config\\nmore')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument,
                       match=r"^importing 'broken_remedies:x' raised ValueError: bad config$"):
        register_target("broken_remedies:x")


def test_an_initializer_that_fails_when_probed_shows_its_own_error() -> None:
    """A ``(w, *, generator)`` function was reported as 'missing ... argument: generator',
    hiding its real error; it is tried as an initializer, and NaN is told too."""
    def raises(w, *, generator):
        raise RuntimeError("boom in my init")

    def nan_fill(w, *, generator):
        w.fill_(float("nan"))

    with pytest.raises(InvalidArgument, match=r"is: calling it as an initializer on a weight "
                       r"of shape \(4, 16\) raised RuntimeError: boom in my init; set its "
                       r"attribute gradbench_kind"):
        infer_kind(raises, "user:raises")
    with pytest.raises(InvalidArgument, match=r"is: calling it as an initializer on a weight "
                       r"of shape \(4, 16\): initializer 'user:nan_fill' filled the weight with "
                       r"NaN or inf; set its attribute gradbench_kind"):
        infer_kind(nan_fill, "user:nan_fill")


def test_a_remedy_that_raises_when_probed_shows_its_exception() -> None:
    def raising(x):
        raise RuntimeError("this remedy is broken")

    with pytest.raises(InvalidArgument, match=r"cannot tell what kind of remedy 'user:raising' "
                       r"is: calling it on a tensor of shape \(4, 16\) raised RuntimeError: "
                       r"this remedy is broken; set its attribute gradbench_kind"):
        infer_kind(raising, "user:raising")


def test_a_kind_that_does_not_fit_is_one_usage_error(project: Path, monkeypatch) -> None:
    """`--kind optimizer` on an initializer: one sentence, not 140 failing cases."""
    monkeypatch.chdir(project)
    with pytest.raises(InvalidArgument, match=r"--kind optimizer does not fit "
                       r"'user_remedies:my_he', which behaves as 'initializer'; pass --kind "
                       r"initializer or leave --kind out"):
        resolve_target("user_remedies:my_he", "optimizer")
    # elementwise and feature-mixing are the only tell between these two: either is taken
    assert resolve_target("torch.nn.functional:gelu", "normalization")[0] == "normalization"
    assert resolve_target("torch.nn.functional:gelu", "activation")[0] == "activation"


@pytest.mark.integration
def test_a_depth_scheme_setting_an_unknown_field_is_refused_before_any_test(
    project: Path,
) -> None:
    (project / "my_schemes.py").write_text(
        'def typo(depth):\n    return {"placment": "post"}\n')
    code, out, doc = validate(project, "my_schemes:typo", "--kind", "depth_scheme")
    assert code == 2, out
    assert out.strip().splitlines()[-1] == (
        "gradbench: error: 'my_schemes:typo' cannot be validated as depth_scheme: depth scheme "
        "'typo' set placment; a scheme sets only: placement, skip_scale, branch_gain, "
        "layer_gain_exponent, input_var")
    assert doc is None


@pytest.mark.parametrize(("module", "setting", "words"), [
    ("typo_act", {"activation": "rleu"}, "MLPSpec.activation='rleu' is invalid: activation "
     "'rleu' is unknown; did you mean 'relu'?"),
    ("typo_bias", {"activation": "relu", "sigma_b2": -1.0}, "MLPSpec.sigma_b2=-1.0 is invalid"),
])
def test_a_stable_for_setting_naming_no_network_is_refused_at_registration(
        project: Path, monkeypatch, module, setting, words) -> None:
    """A misspelt value in a declared setting failed ``stable_as_declared`` of a correct
    remedy (exit 1, "the measurement raised"); it is refused before the run, in one sentence."""
    (project / f"{module}.py").write_text(
        "import math, torch\n"
        "def he(w, *, generator):\n"
        "    with torch.no_grad():\n"
        "        w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)\n"
        f"he.gradbench_meta = {{'stable_for': [{setting!r}]}}\n")
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    with pytest.raises(InvalidArgument) as refused:
        check_target(f"{module}:he")
    assert str(refused.value).startswith(
        f"'{module}:he' declares the stable_for setting {setting!r}, which is refused: ")
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert "he" not in registry.names("initializer")
    # the critical-initialization setting of an activation is not a spec value: accepted
    (project / "crit.py").write_text(
        "import torch\n"
        "def act(x):\n    return torch.tanh(x)\n"
        "act.gradbench_meta = {'stable_for': [{'init': 'critical'}]}\n")
    assert check_target("crit:act")[0] == "activation"


def test_the_closing_line_counts_one_case_in_the_singular() -> None:
    """`validate mynorm:plain_eps_ln --kind normalization` closed with 'every claim holds
    (1 cases)'."""
    from gradbench.summary import Tally
    from gradbench.validate import ValidationResult

    one = Tally("ln", "candidate", "stable_somewhere", 1, 1, "normalization")
    result = ValidationResult("m:ln", "normalization", "ln", "quick", 0, (one,))
    assert result.closing().splitlines()[-1] == (
        "gradbench validate: candidate 'ln' (normalization): every claim holds (1 case) "
        "(exit code 0)")


def test_the_closing_line_names_the_claims_the_candidate_fails() -> None:
    """`validate myblocks:res_noskip` (a block without its skip) closed with '1 claim failed
    in 1 of 4 cases' and no claim named anywhere in the terminal; the closing line now
    names them (the candidate's only, not a baseline's)."""
    from gradbench.records import Verdict
    from gradbench.summary import Tally
    from gradbench.validate import ValidationResult

    tallies = (Tally("noskip", "candidate", "block_depth_law", 0, 1, "block"),
               Tally("noskip", "candidate", "block_stream_growth", 1, 1, "block"),
               Tally("unscaled_residual", "built-in", "block_output_change", 0, 1, "block"))
    failed = Verdict("block_depth_law", {}, 0.0, 1.0, 1.0, 0.0, 0.5, 1.5, 0.01, False)
    result = ValidationResult("m:noskip", "block", "noskip", "quick", 0, tallies, (failed,))
    assert result.exit_code == 1
    assert result.closing().splitlines()[-1] == (
        "gradbench validate: candidate 'noskip' (block): 1 claim failed in 1 of 2 cases: "
        "block_depth_law (exit code 1)")


def test_depth_for_a_kind_no_stability_claim_judges_is_refused(tmp_path: Path) -> None:
    """`validate torch.optim:Adam --depth 50` was accepted without a word although no claim
    of an optimizer reads the depth; now it is one sentence naming the kinds it applies to,
    before anything runs (nothing is written)."""
    from gradbench.validate import validate

    with pytest.raises(InvalidArgument, match=r"^--depth sets the depth the stability claims "
                       r"judge a remedy at, and no stability claim judges optimizers; --depth "
                       r"applies to: activation, block, initializer, normalization, residual$"):
        validate("torch.optim:Adam", depth=50, out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("stopped_by", "code"), [("KeyboardInterrupt", 130), ("SIGTERM", 143)])
def test_a_validation_stopped_by_a_signal_exits_as_run_does(stopped_by, code) -> None:
    """Ctrl-C in `gradbench validate` after 55 cases were written exited 2 with 'nothing was
    validated' (pytest's INTERRUPTED read as a usage error); it is 130 (143) as for run."""
    from gradbench.summary import Tally
    from gradbench.validate import ValidationResult

    result = ValidationResult("torch.nn.init:kaiming_normal_", "initializer", "kaiming_normal_",
                              "quick", pytest_exit=2, stopped_by=stopped_by,
                              tallies=(Tally("kaiming_normal_", "candidate", "demo", 55, 55),))
    assert result.exit_code == code
    assert result.closing().endswith(
        "candidate 'kaiming_normal_' (initializer): not validated: interrupted (55 cases "
        f"recorded) (exit code {code})")
