"""Fuzz the JSON readers: every input either loads or fails with one InvalidArgument.

Inputs: arbitrary bytes, arbitrary JSON values, truncations of a valid results file,
and valid results files with keys deleted or values replaced. Readers under test:
``records.read_json``, ``report.load_run`` and ``gradbench report`` (CLI: exit 2,
one line on stderr, no traceback).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resultdoc import results_doc

from gradbench import records, report
from gradbench.cli import main
from gradbench.errors import InvalidArgument

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _valid_doc() -> dict:
    """A valid results file as read back from disk (the infinite CI bound encoded)."""
    return json.loads(records.dumps(results_doc(ci_high=math.inf, timing=True)))


VALID_TEXT = records.dumps(_valid_doc()) + "\n"

# Floats include nan/inf: written as JSON text they become bare NaN/Infinity tokens.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["benchmarks", "gradbench", "extra_info", "schema_version", "verdict", "nonfinite",
             "shape", "data", "kind", "claim", "case", "spec", "stats", "name", "x"]
        )
        | st.text(max_size=6),
        children,
        max_size=4,
    ),
    max_leaves=20,
)


def _paths(doc, prefix=()):
    """Every (container path, key) in a JSON document, for deletion/replacement."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


PATHS = _paths(_valid_doc())


def _check_readers(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        try:
            records.read_json(path)
        except InvalidArgument:
            pass
        try:
            report.load_run(path)
        except InvalidArgument:
            pass
        _check_cli(path, Path(tmp) / "out.html")


def _check_cli(path: Path, out: Path) -> None:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["report", str(path), "-o", str(out)])
    stderr = err.getvalue()
    assert "Traceback" not in stderr
    if code == 0:
        assert out.exists()
    else:
        assert code == 2, (code, stderr)
        assert len(stderr.strip().splitlines()) == 1, stderr


def test_valid_file_loads():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.json"
        path.write_text(VALID_TEXT)
        run = report.load_run(path)
        assert [c.claim for c in run.cases] == ["demo"]
        assert main(["report", str(path), "-o", str(Path(tmp) / "o.html")]) == 0


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data):
    _check_readers(data)


@FUZZ
@given(json_values)
def test_arbitrary_json_values(value):
    _check_readers(json.dumps(value))  # allow_nan: bare NaN/Infinity must be rejected cleanly


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID_TEXT)))
def test_truncated_file(n):
    _check_readers(VALID_TEXT[:n])


def _mutate(doc, path, new, delete):
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = new


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.booleans(), json_values), min_size=1, max_size=3
    )
)
def test_mutated_valid_file(edits):
    doc = _valid_doc()
    for path, delete, new in edits:
        try:
            _mutate(doc, path, new, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    _check_readers(json.dumps(doc))


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_bare_nonfinite_is_rejected(tmp_path, token):
    path = tmp_path / "r.json"
    path.write_text(VALID_TEXT.replace('"pvalue": 0.5', f'"pvalue": {token}'))
    with pytest.raises(InvalidArgument):
        records.read_json(path)
