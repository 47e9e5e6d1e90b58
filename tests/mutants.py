"""Mutation testing of the suite: plant one bug at a time, run the quick suite, count kills.

Each :class:`Mutant` names the file and function it changes, the exact text it replaces,
and the claim expected to catch it. :func:`run_mutant` copies the ``gradbench`` package
into a temporary folder, applies the one change, and runs the quick suite against the
copy (``PYTHONPATH`` puts it first, so the plugin and the suites import the mutant) with
a results file; the mutant is *killed* when a claim fails, and killed *as expected* when
the expected claim is among the failures. A mutant whose text no longer occurs is an
error: the list must follow the code.

Run all of them (about a minute each on 2 cores)::

    python tests/mutants.py            # or: tox -e mutants
    python tests/mutants.py he_variance_x0.9 chi1_x1.02   # some of them
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One planted bug.

    Attributes:
        name: short id.
        file: path of the changed file, relative to the repository root.
        function: the function (or registration) the change is in.
        old: the exact text replaced (must occur exactly once).
        new: its replacement.
        claim: the claim expected to fail.
        bug: what the bug is, in words.
    """

    name: str
    file: str
    function: str
    old: str
    new: str
    claim: str
    bug: str


INIT = "gradbench/remedies/initializers.py"
ACT = "gradbench/remedies/activations.py"
NORM = "gradbench/remedies/norms.py"
RES = "gradbench/remedies/residual.py"
OPT = "gradbench/remedies/optimizers.py"

BAD_SILU = '''_Silu.apply(x)


class _Silu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s  # drops the x s (1 - s) term'''

MUTANTS: tuple[Mutant, ...] = (
    Mutant("he_variance_x0.9", INIT, "he_normal",
           "through ReLU.\"\"\"\n    _normal(w, gain**2 / fans(weight_shape(w))[0], generator)",
           "through ReLU.\"\"\"\n    _normal(w, 0.9 * gain**2 / fans(weight_shape(w))[0], "
           "generator)",
           "initializer_variance", "He normal draws 90% of the 2/fan_in it declares"),
    Mutant("xavier_uniform_x0.5", INIT, "xavier_uniform",
           "_uniform(w, _xavier_var(*fans(weight_shape(w)), gain), generator)",
           "_uniform(w, 0.5 * _xavier_var(*fans(weight_shape(w)), gain), generator)",
           "initializer_variance", "xavier_uniform draws half its declared variance"),
    Mutant("he_uniform_bound_without_3", INIT, "_uniform",
           "bound = math.sqrt(3.0 * variance)", "bound = math.sqrt(variance)",
           "initializer_variance", "U(-a, a) with a = sqrt(var): the factor 3 forgotten"),
    Mutant("he_fan_out_uses_fan_in", INIT, "he_normal_fan_out",
           "_normal(w, gain**2 / fans(weight_shape(w))[1], generator)",
           "_normal(w, gain**2 / fans(weight_shape(w))[0], generator)",
           "initializer_variance", "fan-out He computed from fan_in"),
    Mutant("sqrt2_constant_x1.05", INIT, "SQRT2",
           "SQRT2 = math.sqrt(2.0)", "SQRT2 = math.sqrt(2.0) * 1.05",
           "initializer_variance", "the module's sqrt(2), every He initializer's default gain, "
           "5% too large (variance x1.1025); the declared laws are written apart from it"),
    Mutant("xavier_draw_formula_1_over_fan_sum", INIT, "_xavier_var",
           "return gain**2 * 2.0 / (fan_in + fan_out)", "return gain**2 * 1.8 / (fan_in + fan_out)",
           "initializer_variance", "the Glorot variance the drawing code uses, 2/(fan_in + "
           "fan_out), written with 1.8: both Xavier initializers draw 90% of the law"),
    Mutant("orthogonal_gain_squared", INIT, "orthogonal",
           "w.copy_(((q if rows >= cols else q.T) * gain).reshape(w.shape))",
           "w.copy_(((q if rows >= cols else q.T) * gain**2).reshape(w.shape))",
           "initializer_orthogonal", "orthogonal scaled by gain^2 instead of gain"),
    Mutant("swish_wrong_backward", ACT, "silu", "F.silu(x)", BAD_SILU,
           "activation_backward", "hand-written SiLU backward drops x s (1 - s)"),
    Mutant("chi1_x1.02", "gradbench/theory/_mean_field.py", "_chi_at",
           "return sw2 * _moments(act, q).dphi2", "return 1.02 * sw2 * _moments(act, q).dphi2",
           "mean_field_slope", "theory's chi_1 2% too high (1% per layer in gradient norm)"),
    Mutant("q_map_drops_bias", "gradbench/theory/_mean_field.py", "q_map",
           "return sw2 * _moments(_resolve(activation), q).phi2 + sb2",
           "return sw2 * _moments(_resolve(activation), q).phi2",
           "activation_moments", "the length map forgets sigma_b2"),
    Mutant("relu_bias_halved", "gradbench/theory/_finite_width.py", "_relu_layer",
           "e_log=mean_psi + math.log(4.0 / n),", "e_log=0.5 * (mean_psi + math.log(4.0 / n)),",
           "mean_field_slope", "the exact ReLU finite-width bias of the log-norm halved"),
    Mutant("layernorm_no_centering", NORM, "layernorm",
           "dim=-1, unbiased=False, keepdim=True)\n    return (h - mean) / torch.sqrt(var + EPS)",
           "dim=-1, unbiased=False, keepdim=True)\n    return h / torch.sqrt(var + EPS)",
           "normalization_invariance", "LayerNorm without mean-centering"),
    Mutant("batchnorm_unbiased_var", NORM, "batchnorm",
           "var = h.var(dim=-2, unbiased=False, keepdim=True)",
           "var = h.var(dim=-2, unbiased=True, keepdim=True)",
           "normalization_invariance", "BatchNorm divides by the unbiased batch variance"),
    Mutant("inv_sqrt_depth_is_inv_depth", RES, "inv_sqrt_depth",
           "return 1.0 / math.sqrt(depth)", "return 1.0 / depth",
           "residual_scaling_law", "the 1/sqrt(L) scaling returns 1/L"),
    Mutant("inv_layer_squared", RES, "inv_layer", "return 1.0 / layer",
           "return 1.0 / layer**2", "residual_scaling_law", "the 1/l scaling returns 1/l^2"),
    Mutant("adam_eps_1e-3", OPT, "adam",
           "torch.optim.Adam(\n        params, lr=lr, betas=(beta1, beta2), eps=eps,",
           "torch.optim.Adam(\n        params, lr=lr, betas=(beta1, beta2), eps=1e-3,",
           "optimizer_first_step", "Adam built with eps = 1e-3 (documented: 1e-8)"),
    Mutant("adam_beta2_0.99", OPT, "adam",
           "torch.optim.Adam(\n        params, lr=lr, betas=(beta1, beta2),",
           "torch.optim.Adam(\n        params, lr=lr, betas=(beta1, 0.99),",
           "optimizer_update_rule", "Adam built with beta2 = 0.99 (documented: 0.999)"),
    Mutant("momentum_0.5", OPT, "sgd_momentum",
           "return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)",
           "return torch.optim.SGD(params, lr=lr, momentum=0.5, weight_decay=weight_decay)",
           "optimizer_update_rule", "heavy-ball SGD built with momentum 0.5 (documented: 0.9)"),
    Mutant("rmsprop_ignores_lr", OPT, "rmsprop",
           "return torch.optim.RMSprop(params, lr=lr, alpha=alpha,",
           "return torch.optim.RMSprop(params, lr=0.01, alpha=alpha,",
           "optimizer_lr_scaling", "RMSprop built with lr = 0.01 whatever lr it is given"),
    Mutant("gradient_ascent_sgd", OPT, "sgd",
           "return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)",
           "return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, maximize=True)",
           "optimizer_descent", "plain SGD climbs the loss"),
    Mutant("clip_without_eps", OPT, "clip_grad_norm_stacked_",
           "coef = torch.clamp(max_norm / (total + CLIP_EPS), max=1.0)",
           "coef = torch.clamp(max_norm / total, max=1.0)",
           "clip_by_norm", "norm clipping drops PyTorch's 1e-6 in the denominator"),
    Mutant("critical_sigma_w2_x1.1", "gradbench/theory/_mean_field.py", "_critical_at",
           "sw2 = 1.0 / m.dphi2", "sw2 = 1.1 / m.dphi2",
           "stable_somewhere", "the critical line's sigma_w2 10% too large (chi_1 = 1.1 where "
           "theory says 1): GELU, SiLU and sigmoid tried at a chaotic point grow x4 over depth "
           "30, outside theory's band"),
    Mutant("mlp_forward_skips_norm", "gradbench/models.py", "MLPFamily.forward",
           "            x = act(norm(h))\n        return Forward(",
           "            x = act(h)\n        return Forward(",
           "mean_field_slope", "the probe's MLP forward skips the normalization"),
    Mutant("residual_w1_untransposed", "gradbench/models.py", "ResidualFamily.forward",
           'h = _affine(x, params[f"W1_{block}"],', 'h = _affine(x, params[f"W1_{block}"].mT,',
           "probe_equals_reference", "the probe's residual branch multiplies by W1, not W1^T "
           "(same distribution for i.i.d. weights: only the reference module sees it)"),
    Mutant("rnn_inputs_reversed", "gradbench/models.py", "RNNFamily.forward",
           "step(xs[..., t, :, :] @ w_ih.mT", "step(xs[..., spec.steps - 1 - t, :, :] @ w_ih.mT",
           "probe_equals_reference", "the probe's RNN reads the input sequence backwards"),
    Mutant("conv1d_kernel_flipped", "gradbench/models.py", "_circular_windows",
           "torch.roll(x, p - j, dims=-1)", "torch.roll(x, j - p, dims=-1)",
           "probe_equals_reference", "the probe's 1-D convolution flips its kernel "
           "(convolution where nn.Conv1d cross-correlates)"),
    Mutant("lstm_forget_bias_on_input_gate", "gradbench/specs.py", "CELL_KINDS",
           '"lstm": CellKind(4, carry_gate=1)', '"lstm": CellKind(4, carry_gate=0)',
           "carry_gate_mean", "the LSTM's forget bias is drawn into the input gate i "
           "(the reference module loads the same parameters: only the gate's theory sees it)"),
    Mutant("gru_forget_bias_on_new_gate", "gradbench/specs.py", "CELL_KINDS",
           '"gru": CellKind(3, carry_gate=1)', '"gru": CellKind(3, carry_gate=2)',
           "carry_gate_mean", "the GRU's update-gate bias is drawn into the new gate n"),
    Mutant("gated_input_weights_per_gate_fan", "gradbench/models.py", "RNNFamily.draw_parameters",
           "w_ih = draw.gaussian((gates * n, n), spec.sigma_u2 / n)",
           "w_ih = draw.gaussian((gates * n, n), spec.sigma_u2 / (gates * n))",
           "carry_gate_mean", "the input weights of a gated cell are drawn with variance "
           "sigma_u2 / (gates H), fan-out of the stacked matrix, not sigma_u2 / H"),
    Mutant("transformer_w2_at_fan_in_d", "gradbench/models.py",
           "TransformerFamily.draw_parameters",
           'params[f"W2_{b}"] = draw.weight(spec.init, (d, d_ff), None) * beta',
           'params[f"W2_{b}"] = draw.weight(spec.init, (d_ff, d), None).mT * beta',
           "preln_stream_growth", "the FFN output weight W2 is drawn transposed, at fan-in d "
           "in place of d_ff: ffn times the variance under a fan-in initializer (the reference "
           "module loads the same weights: only the Pre-LN law sees it)"),
    Mutant("transformer_preln_drops_skip", "gradbench/models.py", "TransformerFamily.forward",
           "x = alpha * x + sublayer(spec, params, b, _layer_norm(x))",
           "x = sublayer(spec, params, b, _layer_norm(x))",
           "preln_stream_growth", "the Pre-LN forward drops the skip connection "
           "(x <- F(LN x)): the stream no longer accumulates"),
    Mutant("transformer_preln_drops_final_norm", "gradbench/models.py",
           "TransformerFamily.forward",
           'y = _layer_norm(x) if spec.placement == "pre" else x', "y = x",
           "preln_gradient_profile", "the Pre-LN readout reads the stream, not LN(stream): "
           "the final LayerNorm dropped, so |g_l|^2 q_l = q_L in place of 1"),
    Mutant("transformer_preln_norm_after_add", "gradbench/models.py",
           "TransformerFamily.forward",
           "x = alpha * x + sublayer(spec, params, b, _layer_norm(x))",
           "x = _layer_norm(alpha * x + sublayer(spec, params, b, x))",
           "preln_gradient_profile", "the Pre-LN branch normalizes after the add (Post-LN's "
           "placement): each sublayer's backward gain is (1 - 2/d) and the product drifts"),
    Mutant("transformer_postln_detached_stats", "gradbench/models.py",
           "TransformerFamily.forward",
           "x = _layer_norm(alpha * x + sublayer(spec, params, b, x))",
           "h = alpha * x + sublayer(spec, params, b, x)\n"
           "                    x = (h - h.mean(-1, keepdim=True).detach()) / torch.sqrt(\n"
           "                        h.var(-1, unbiased=False, keepdim=True).detach() + _LN_EPS)",
           "postln_sublayer_gain", "the Post-LN LayerNorm's mean and variance are detached "
           "from the graph: its backward is 1/sigma, not the rank d - 2 projection over "
           "sigma, so the top sublayer's gain is about 2/d too large"),
    Mutant("transformer_scores_unscaled", "gradbench/models.py",
           "TransformerFamily._attention",
           "scores = q @ k.mT / math.sqrt(d // heads)", "scores = q @ k.mT",
           "probe_equals_reference", "the probe's attention forgets the 1/sqrt(d_head) of "
           "scaled dot-product attention"),
    # --- attention at initialization (issue 17) ---
    Mutant("attention_softmax_over_queries", "gradbench/models.py",
           "TransformerFamily._attention",
           "mixed = (torch.softmax(scores, dim=-1) @ v)",
           "mixed = (torch.softmax(scores, dim=-2) @ v)",
           "uniform_attention_kernel", "the attention softmax runs over the query axis: P's "
           "columns sum to 1, not its rows (under a causal mask uniform attention's P becomes "
           "its anti-transpose; the reference module is torch's own and disagrees too)"),
    Mutant("attention_mask_after_softmax", "gradbench/models.py",
           "TransformerFamily._attention",
           "        if spec.causal:\n"
           "            scores = scores.masked_fill(_causal_mask(spec.seq, x.device), -math.inf)\n"
           "        mixed = (torch.softmax(scores, dim=-1) @ v)",
           "        probs = torch.softmax(scores, dim=-1)\n"
           "        if spec.causal:\n"
           "            probs = probs.masked_fill(_causal_mask(spec.seq, x.device), 0.0)\n"
           "        mixed = (probs @ v)",
           "uniform_attention_kernel", "the causal mask zeroes probabilities after the softmax "
           "instead of scores before it: rows are not renormalised (uniform attention gives 1/n "
           "in place of 1/(i+1))"),
    Mutant("attention_sigmoid", "gradbench/models.py", "TransformerFamily._attention",
           "mixed = (torch.softmax(scores, dim=-1) @ v)",
           "mixed = (torch.sigmoid(scores) @ v)",
           "qk_gradient_collapse", "elementwise sigmoid of the scores in place of the row "
           "softmax: no row normalisation, so no shift invariance, and the query/key "
           "gradients stay O(1) on a rank-one input"),
    Mutant("attention_value_skip", "gradbench/models.py", "TransformerFamily._attention",
           "mixed = (torch.softmax(scores, dim=-1) @ v)",
           "mixed = (torch.softmax(scores, dim=-1) @ v + v)",
           "pure_attention_collapse", "a hidden skip in the attention path: the values are "
           "added back (A + I in place of A), so a skipless stack keeps its residual "
           "(exponent 1 in place of 3)"),
    Mutant("attention_identity", "gradbench/models.py", "TransformerFamily._attention",
           "mixed = (torch.softmax(scores, dim=-1) @ v)",
           "mixed = (torch.eye(spec.seq, dtype=v.dtype) @ v)",
           "pure_attention_collapse", "identity attention weights (each token attends to "
           "itself only): no mixing, so the residual ratio keeps its order (exponent 1)"),
    # --- transformer depth schemes (issue 17) ---
    Mutant("deepnorm_beta_exponent_half", "gradbench/remedies/schemes.py", "deepnorm",
           '"branch_gain": (8 * depth) ** (-1 / 4)}', '"branch_gain": (8 * depth) ** (-1 / 2)}',
           "output_change_law", "DeepNorm's beta with exponent -1/2 in place of -1/4: the "
           "output change shrinks like N^(-1/2) (remedy_constants sees it too)"),
    Mutant("admin_omega_from_blocks", "gradbench/remedies/schemes.py", "admin",
           "n = 2 * depth", "n = depth",
           "remedy_constants", "Admin's omega computed with n = N blocks in place of the 2N "
           "sublayers its closed form counts"),
    Mutant("layer_gain_on_variance", "gradbench/models.py", "TransformerFamily.draw_parameters",
           'params[f"{w}{b}"] * spec.layer_gain(b + 1)',
           'params[f"{w}{b}"] * math.sqrt(spec.layer_gain(b + 1))',
           "remedy_constants", "the per-block factor l^-p applied to the variance, not the "
           "std (DS-Init's std l^(-1/4), as the authors' code has it, not the paper's l^(-1/2))"),
    # --- deep CNNs (issue 17) ---
    Mutant("delta_orthogonal_sqrt_gain", INIT, "delta_orthogonal",
           "orthogonal(centre, generator=generator, gain=gain)",
           "orthogonal(centre, generator=generator, gain=math.sqrt(gain))",
           "delta_orthogonal_isometry", "the delta-orthogonal centre tap scaled by sqrt(gain), "
           "the ambiguity of TF's ConvolutionDeltaOrthogonal docstring (dense weights, which "
           "the initializer claims draw, are unaffected)"),
    Mutant("conv_modes_offset_forgotten", "gradbench/theory/_conv.py", "spatial_mode_factor",
           "2j * math.pi * mode * (j - p) / length", "2j * math.pi * mode * j / length",
           "conv_spatial_modes", "theory's lambda_m without the kernel's centring offset p: "
           "the modulation's phase turns by 2 pi m p / T per layer"),
    Mutant("conv_input_profile_is_std", "gradbench/models.py", "_modulated_input",
           'data["x"] = data["x"] * ratio.sqrt()', 'data["x"] = data["x"] * ratio',
           "conv_spatial_modes", "the modulated input is scaled by its variance profile, not "
           "its square root (variance (1 + a cos)^2 instead of 1 + a cos)"),
    # --- 2-D convolutions (issue 17) ---
    Mutant("conv2d_kernel_flipped", "gradbench/models.py", "_windows2d",
           "torch.roll(x, (p - i, p - j), dims=(-2, -1))",
           "torch.roll(x, (i - p, j - p), dims=(-2, -1))",
           "probe_equals_reference", "the probe's circular 2-D convolution flips its kernel "
           "(convolution where nn.Conv2d cross-correlates)"),
    Mutant("conv2d_batchnorm_per_position", "gradbench/models.py", "_batchnorm2d",
           "axes = (-4, -2, -1)", "axes = (-4,)",
           "probe_equals_reference", "the probe's 2-D BatchNorm takes statistics over the batch "
           "at each position, not per channel over batch and positions (nn.BatchNorm2d)"),
    Mutant("conv2d_bn_batch_without_positions", "gradbench/theory/_conv.py",
           "_pointwise_batchnorm",
           "examples = None if batch is None else batch * positions",
           "examples = batch",
           "mean_field_slope", "theory's 1 x 1 BatchNorm2d rate at batch B, the positions "
           "forgotten as examples (B H W): a linear net's (B-2)/(B-3) at 8 in place of 128, "
           "and no prediction for a nonlinear one"),
    Mutant("conv2d_fan_one_kernel_axis", INIT, "fans",
           "receptive = math.prod(shape[2:])", "receptive = math.prod(shape[2:3])",
           "mean_field_slope", "a 2-D kernel's fan-in counts one kernel axis, C k instead of "
           "C k^2 (dense and 1-D weights unchanged): every fan-scaled 2-D kernel drawn k times "
           "too wide"),
    Mutant("conv2d_modes_columns_forgotten", "gradbench/theory/_conv.py", "conv_spatial_modes",
           "for n, m in zip(spec.spatial_shape, spec.input_modes))",
           "for n, m in zip(spec.spatial_shape[:1], spec.input_modes[:1]))",
           "conv_spatial_modes", "theory's 2-D spatial-mode factor is the rows' lambda_m(H) "
           "alone, the columns' lambda_n(W) forgotten (a 1-D law carried over to 2-D)"),
    Mutant("delta_orthogonal_corner_tap", INIT, "delta_orthogonal",
           "(slice(None), slice(None), *(k // 2 for k in taps))",
           "(slice(None), slice(None), *(0 for k in taps))",
           "delta_orthogonal_isometry", "the orthogonal matrix put at the kernel's first tap, "
           "not its centre: a shift, still an isometry with circular padding, but a zero-padded "
           "2-D net loses a border row and column per layer"),
)


@dataclass(frozen=True)
class Outcome:
    """What the quick suite did with one mutant."""

    mutant: Mutant
    failed_claims: tuple[str, ...]
    exit_code: int
    seconds: float

    @property
    def killed(self) -> bool:
        return bool(self.failed_claims)

    @property
    def as_expected(self) -> bool:
        return self.mutant.claim in self.failed_claims

    @property
    def crashed(self) -> bool:
        return self.exit_code not in (0, 1)


def apply(mutant: Mutant, root: Path) -> None:
    """Apply ``mutant`` to the copy of the package under ``root``."""
    path = root / mutant.file
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.name}: its text occurs {count} times in "
                         f"{mutant.file} (must be exactly once); update tests/mutants.py")
    path.write_text(text.replace(mutant.old, mutant.new))


def run_mutant(mutant: Mutant, workers: int = 2, base_seed: int = 0,
               source: Path = ROOT, select: str | None = None) -> Outcome:
    """Run ``source``'s quick suite against a copy of its package with ``mutant`` applied.

    A suite that does not run to the end (pytest exit status other than 0 or 1, e.g. a
    collection error) counts as a crash, never as a kill by a claim. ``select`` is a pytest
    ``-k`` expression (a part of the suite, e.g. to measure one claim's run-level power).
    """
    import time

    with tempfile.TemporaryDirectory(prefix=f"gradbench-mutant-{mutant.name}-") as tmp:
        copy = Path(tmp)
        shutil.copytree(source / "gradbench", copy / "gradbench",
                        ignore=shutil.ignore_patterns("__pycache__"))
        apply(mutant, copy)
        out = copy / "results.json"
        env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        suites = source / "suites"
        # --rootdir: node ids as `gradbench run` has them (test_x.py::t), not naming this
        # run's temporary folder (the examples drawn follow the suite id either way: the
        # plugin seeds Hypothesis with it, gradbench/plugin/fixtures.py).
        cmd = [sys.executable, "-m", "pytest", str(suites), "-q", "-p",
               "no:cacheprovider", f"--rootdir={suites}", "--gradbench-profile=quick",
               f"--gradbench-json={out}",
               f"--gradbench-base-seed={base_seed}",
               *(f"--ignore={p}" for p in sorted(suites.glob("bench_*.py"))),
               *(["-n", str(workers)] if workers > 1 else []),
               *(["-k", select] if select else [])]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=copy)
        seconds = time.perf_counter() - start
        failed: list[str] = []
        if proc.returncode not in (0, 1):
            failed.append(f"<suite did not run: pytest exit {proc.returncode}>")
        elif out.exists():
            for bench in json.loads(out.read_text())["benchmarks"]:
                case = bench["extra_info"]["gradbench"]
                if case.get("verdict") and not case["verdict"]["passed"]:
                    failed.append(case["claim"])
    return Outcome(mutant, tuple(sorted(set(failed))), proc.returncode, seconds)


def _report(o: Outcome) -> Outcome:
    mark = ("CRASHED" if o.crashed else "KILLED" if o.as_expected
            else "killed (other claim)" if o.killed else "SURVIVED")
    print(f"{o.mutant.name:30s} {mark:20s} expected {o.mutant.claim}; failed: "
          f"{', '.join(o.failed_claims) or '-'} ({o.seconds:.0f} s)", flush=True)
    return o


def main(argv: list[str]) -> int:
    """Run the named mutants (default: all); print one line each and the kill count.

    ``--seeds N`` runs each mutant at base seeds 0..N-1 (its run-level power: the fraction
    of runs that catch it); ``-k EXPR`` runs only that part of the suite.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="tests/mutants.py")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("-k", dest="select", default=None)
    args = parser.parse_args(argv)
    if args.seeds > 1:
        return _power(args.names, args.seeds, args.select)
    argv = args.names
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    unknown = set(argv) - {m.name for m in MUTANTS}
    if unknown:
        print(f"unknown mutants: {', '.join(sorted(unknown))}; known: "
              f"{', '.join(m.name for m in MUTANTS)}", file=sys.stderr)
        return 2
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="gradbench-mutants-") as snapshot:
        # one snapshot of package and suites, so edits made while the mutants run change nothing
        for folder in ("gradbench", "suites"):
            shutil.copytree(ROOT / folder, Path(snapshot) / folder,
                            ignore=shutil.ignore_patterns("__pycache__"))
        outcomes = [_report(run_mutant(m, source=Path(snapshot), select=args.select))
                    for m in chosen]
    killed = sum(o.as_expected for o in outcomes)
    print(f"mutation score: {killed}/{len(outcomes)} planted bugs caught by the claim expected "
          f"({sum(o.killed for o in outcomes)}/{len(outcomes)} caught at all)")
    return 0 if killed == len(outcomes) else 1


def _power(names: list[str], seeds: int, select: str | None) -> int:
    """Each mutant at base seeds 0..seeds-1: how many runs catch it with the expected claim."""
    for mutant in [m for m in MUTANTS if m.name in names] or MUTANTS:
        caught = 0
        with tempfile.TemporaryDirectory(prefix="gradbench-mutants-") as snapshot:
            for folder in ("gradbench", "suites"):
                shutil.copytree(ROOT / folder, Path(snapshot) / folder,
                                ignore=shutil.ignore_patterns("__pycache__"))
            for base in range(seeds):
                o = run_mutant(mutant, base_seed=base, source=Path(snapshot), select=select)
                caught += o.as_expected
                print(f"{mutant.name} base seed {base}: "
                      f"{'caught' if o.as_expected else 'missed'} ({o.seconds:.0f} s)", flush=True)
        print(f"{mutant.name}: run-level power {caught}/{seeds}"
              + (f" (suite part -k {select!r})" if select else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
