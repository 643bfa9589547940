"""SECURITY.md tells the truth about itself: what it says is not covered, no row covers."""

import re

from tests.live import ROOT

SECURITY = (ROOT / "SECURITY.md").read_text()
# An ASVS requirement or section (`V6.5.1`, `V6.4`), or a range of sections (`V6.4`, an en
# dash or a hyphen, `V6.6`).
ASVS = re.compile(r"V(\d+)\.(\d+)(?:\.(\d+))?(?:[\u2013-]V\1\.(\d+))?")


def _cited_by_rows() -> set[tuple[int, int]]:
    """The ASVS sections (chapter, section) that the tables' rows cite."""
    cited = set()
    for line in SECURITY.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 4:
            for chapter, section, _, _ in ASVS.findall(cells[3]):
                cited.add((int(chapter), int(section)))
    return cited


def _not_covered() -> dict[str, set[tuple[int, int]]]:
    """Each requirement or range the known limits call not covered, and the sections it spans."""
    text = SECURITY.split("**Not covered:**", 1)[1].split("outside this project's scope", 1)[0]
    spans = {}
    for match in ASVS.finditer(text):
        chapter, first, requirement, last = match.groups()
        if requirement:
            continue  # one requirement: a row citing its section may cover another
        sections = range(int(first), int(last or first) + 1)
        spans[match.group(0)] = {(int(chapter), section) for section in sections}
    return spans


def test_what_the_known_limits_call_not_covered_no_table_row_covers():
    cited = _cited_by_rows()
    assert cited
    contradicted = {name: span & cited for name, span in _not_covered().items() if span & cited}
    assert contradicted == {}
    assert not re.search(r"\*\*Not covered:\*\*[^.]*\bMFA\b", SECURITY)
