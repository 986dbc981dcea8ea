"""The pytest plugin, as a user's test suite sees it: run in a separate pytest process on real artifacts."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def paths(artifacts) -> dict[str, str]:
    artifacts.folders("tf1_meta_ckpt_missing_backbone", "tf1_meta_ckpt_clean")
    return {"missing": str(artifacts.path("tf1_meta_ckpt_missing_backbone")),
            "clean": str(artifacts.path("tf1_meta_ckpt_clean"))}


def test_assert_clean_fails_with_a_table_and_no_graphaudit_frames(pytester, paths):
    pytester.makepyfile(test_models=f"""
        from graphaudit.testing import assert_clean

        def test_missing_backbone():
            assert_clean(r"{paths['missing']}")

        def test_clean():
            report = assert_clean(r"{paths['clean']}")
            assert report.findings == []
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*def test_missing_backbone():",
        ">       assert_clean(r\"*model.ckpt.meta\")",
        "E       AssertionError: graphaudit: 1 finding at or above `warning` in *"
        "tf1_meta_ckpt_missing_backbone/model.ckpt.meta",
        "E         code * location * message * fix-up",
        "E         GA201 error * 8 variables * 8 variables (4,296 params) that `output` reads get * "
        "Create the `Saver` without a",
        "FAILED test_models.py::test_missing_backbone - AssertionError: graphaudit: 1*",
    ])
    out = result.stdout.str()
    # `__tracebackhide__`: the failure points at the test's own line, not into graphaudit.
    assert "graphaudit/testing/" not in out and "graphaudit/api.py" not in out
    assert "PASSED" not in out and "test_clean FAILED" not in out


def test_fixture_marker_and_assertion_rewriting(pytester, paths):
    pytester.makepyfile(test_fixture=f"""
        import pytest

        @pytest.mark.graphaudit(ignore=["GA201"])
        def test_marker_options_reach_the_fixture(graphaudit):
            graphaudit.assert_clean(r"{paths['missing']}")

        def test_bare_report(graphaudit):
            report = graphaudit.audit(r"{paths['missing']}")
            assert report

        def test_findings_list(graphaudit):
            report = graphaudit.audit(r"{paths['missing']}")
            assert report.findings == []

        def test_findings_against_findings_keep_pytests_diff(graphaudit):
            import dataclasses

            (found,) = graphaudit.audit(r"{paths['missing']}").findings
            assert [found] == [dataclasses.replace(found, message="other")]

        def test_other_comparisons_are_left_to_pytest():
            assert [1, 2] == [1]
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(["E         At index 0 diff: Finding(code='GA201'*"])
    result.stdout.fnmatch_lines([
        "E       assert <Report 1 artifact, 1 finding (1 error), failing at warning: GA201 *model.ckpt.meta>",
    ])
    result.stdout.fnmatch_lines([
        "E       assert [1 finding: GA201] == []",
        "E         graphaudit found 1 finding:",
        "E           code * location * message * fix-up",
        "E           GA201 error * 8 variables * 8 variables (4,296 params) that `output` reads get *",
    ])
    result.stdout.fnmatch_lines(["E         Left contains one more item: 2"])
