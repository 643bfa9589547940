"""The README's notation (tests/readme/readme.py): answers it promises are kept, others refused."""

from pathlib import Path

import pytest

from tests.readme.readme import Ask, Command, answer_parse, blocks, shape_match, text_match

PROFILE = {"id": 1, "username": "demo", "email": "demo@example.com", "bio": ""}


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        ('{"id", "username": "demo", …}', PROFILE),
        ('{"id", "username", "email", "bio"}', PROFILE),
        ('{"email": "demo@…"}', {"email": "demo@example.com"}),
        ('{"codes": […]}', {"codes": ["a", "b"]}),
        ('{"methods": ["totp", "recovery_code"]}', {"methods": ["totp", "recovery_code"]}),
        ('{"verified": true, "n": 3, "none": null}', {"verified": True, "n": 3, "none": None}),
        ("[…]", [1, 2]),
    ],
)
def test_a_body_of_the_shape_matches(shape: str, value: object) -> None:
    assert shape_match(answer_parse(shape).shape, value)


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        ('{"id", "username": "demo"}', PROFILE),
        ('{"username": "alice", …}', PROFILE),
        ('{"token", …}', PROFILE),
        ('{"email": "root@…"}', {"email": "demo@example.com"}),
        ('{"verified": true}', {"verified": "true"}),
        ('{"n": 1}', {"n": True}),
        ('{"methods": ["totp"]}', {"methods": ["totp", "recovery_code"]}),
        ('{"codes": […]}', {"codes": "a"}),
        ('{"id", …}', [PROFILE]),
    ],
)
def test_a_body_of_another_shape_does_not(shape: str, value: object) -> None:
    assert not shape_match(answer_parse(shape).shape, value)


def test_an_answer_is_a_status_a_status_and_a_shape_a_shape_or_a_line_of_text() -> None:
    assert answer_parse("204").status == 204
    assert answer_parse("204").shape is None
    both = answer_parse('202 {"code": "mail_sent", …}')
    assert both.status == 202
    assert shape_match(both.shape, {"code": "mail_sent", "detail": "x"})
    assert answer_parse('{"a": 1}').status is None
    assert answer_parse("logged in to … as demo").text == "logged in to … as demo"


def test_text_matches_with_the_ellipsis_standing_for_anything_and_nothing_else() -> None:
    assert text_match("logged in to … as demo", "logged in to http://127.0.0.1:8000 as demo")
    assert not text_match("logged in to … as demo", "logged in to http://x as demon")
    assert not text_match("bio: a.c", "bio: abc")


def test_a_malformed_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="not a shape"):
        answer_parse('200 {"a": 1')


def test_a_block_reads_as_commands_with_their_answers_and_the_values_the_reader_supplies(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "## Walk\n\n```sh\n# KEY=<the key in the mail>\n# a note for the reader\n"
        "curl -s \\\n     http://127.0.0.1:8000/api/x/\n# → 202 {…}\n# → 202\necho done\n```\n"
    )
    (block,) = blocks(readme)
    assert block.section == "Walk"
    assert block.steps() == [
        Ask("KEY", "the key in the mail"),
        Command("curl -s \\\n     http://127.0.0.1:8000/api/x/", 6, ["202 {…}", "202"]),
        Command("echo done", 10),
    ]
