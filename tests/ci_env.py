"""The environment a test's subprocess sees as "on CI" or "not on CI"."""

from __future__ import annotations

import importlib

import pytest

# Every variable Hypothesis reads as "on CI" (hypothesis._settings._CI_VARS, private, read
# when present), and at least these, including the copy tox keeps of an outer CI
# (tox-dev/tox#3442): a test that wants "not on CI" clears all of them.
HYPOTHESIS_CI_VARIABLES = tuple(sorted({
    "CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey", "BUILDKITE",
    "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS", "GITLAB_CI",
    "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION",
    *getattr(importlib.import_module("hypothesis._settings"), "_CI_VARS", {}),
}))


def set_ci(monkeypatch: pytest.MonkeyPatch, ci: bool) -> None:
    """Make a subprocess see exactly "on CI" (CI=true) or "not on CI" (no CI variable)."""
    for var in HYPOTHESIS_CI_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    if ci:
        monkeypatch.setenv("CI", "true")
