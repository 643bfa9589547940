"""`bench.compare` puts each comparative test's outcome under the modes its cases ran in."""

from pathlib import Path

from bench.compare import comparative_read

# A report as pytest writes it (--junitxml): cases named by their parameters.
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="t" name="test_every_mode_reads_the_identical_profile[runserver]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[runserver-session]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[runserver-jwt-cookie]"/>
<testcase classname="t" name="test_a_wrong_csrf_token_is_refused[gunicorn-jwt-cookie]">
<failure message="assert 200 == 403"/></testcase>
<testcase classname="t" name="test_logout_all_ends_every_login[gunicorn-session-jwt-header]">
<skipped message="no Redis"/></testcase>
<testcase classname="t" name="test_logout_all_ends_every_login[gunicorn-session-session]"/>
</testsuite></testsuites>
"""


def test_each_test_reports_its_worst_case_in_each_mode_it_ran_in(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)

    assert comparative_read(junit) == {
        "every mode reads the identical profile": {
            "session": "pass",
            "jwt-header": "pass",
            "jwt-cookie": "pass",
        },
        "a wrong csrf token is refused": {"session": "pass", "jwt-cookie": "FAIL"},
        "logout all ends every login": {"session": "skipped", "jwt-header": "skipped"},
    }
