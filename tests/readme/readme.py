"""The README as the tests read it: its shell blocks, their commands and the answers it promises.

A walk-through is a ```sh block. In it:

- a command is a line (with its `\\` continuation lines), run as written;
- `# → ANSWER`, on the lines after a command, is what the README says that command answers:
  `→ 202` (the status of its last curl), `→ 200 {"email": …, "verified": true}` (the status
  and the JSON body; see `shape_match`), `→ {…}` (the body, any success), or a line of text
  the command prints (`→ logged in to … as demo`), `…` standing for anything;
- `# NAME=<what>` is a value the reader supplies at that point (`# KEY=<the key in the mail's
  link>`): the tests supply it from where the reader would find it;
- a command that serves until stopped, `make run` or `make provider` (variables before it
  or not), runs in a terminal of its own, as the reader runs it: `make run` stopped and
  started again so, `make provider` beside it; the tests wait till it serves;
- any other comment is for the reader alone.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ELLIPSIS = "…"
ANSWER = re.compile(r"^#\s*→\s*(.*)$")
ASK = re.compile(r"^#\s*([A-Z][A-Z0-9_]*)=<(.+)>\s*$")
STATUS = re.compile(r"^([1-5]\d\d)(?:\s+(.*))?$")
FENCE = re.compile(r"^```(\w*)\s*$")
HEADING = re.compile(r"^(#{2,3}) (.+)$")


@dataclass
class Command:
    """A command of a walk-through, and the answers the README gives for it."""

    text: str
    line: int
    answers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ask:
    """A value the reader supplies: `# NAME=<what>`."""

    name: str
    what: str


@dataclass
class Block:
    """A fenced block of the README: its language, its section and its lines."""

    language: str
    section: str
    line: int
    text: str

    def steps(self) -> list[Command | Ask]:
        """The block's commands and asks, in order."""
        steps: list[Command | Ask] = []
        lines = self.text.splitlines()
        index = 0
        while index < len(lines):
            number, line = self.line + 1 + index, lines[index].strip()
            index += 1
            if not line:
                continue
            if answer := ANSWER.match(line):
                last = next((s for s in reversed(steps) if isinstance(s, Command)), None)
                assert last is not None, f"README line {number}: an answer before any command"
                last.answers.append(answer[1].strip())
            elif ask := ASK.match(line):
                steps.append(Ask(ask[1], ask[2]))
            elif not line.startswith("#"):
                text = lines[index - 1]
                while text.rstrip().endswith("\\") and index < len(lines):
                    text += "\n" + lines[index]
                    index += 1
                steps.append(Command(text.strip(), number))
        return steps


def blocks(readme: Path) -> list[Block]:
    """Every fenced block of `readme` (top-level fences only), in order."""
    found: list[Block] = []
    section = ""
    lines = readme.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if heading := HEADING.match(line):
            section = heading[2]
        elif fence := FENCE.match(line):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            found.append(Block(fence[1], section, index + 1, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return found


@dataclass(frozen=True)
class Expected:
    """An answer the README gives: a status, a body shape, or a line of text."""

    status: int | None = None
    shape: Any = None
    text: str | None = None


def answer_parse(answer: str) -> Expected:
    """What `→ ANSWER` promises."""
    if status := STATUS.match(answer):
        rest = status[2]
        return Expected(int(status[1]), shape_parse(rest) if rest else None)
    if answer.startswith(("{", "[")):
        return Expected(shape=shape_parse(answer))
    return Expected(text=answer)


# A shape is JSON where `…` is any value, `"key"` alone a key that must be there whatever its
# value, a member `…` any other keys, and `…` inside a string any characters.
ANY = object()


@dataclass(frozen=True)
class ObjectShape:
    """An object: these members, and others only if `open`."""

    members: dict[str, Any]
    open: bool


@dataclass(frozen=True)
class ListShape:
    """A list: these items, or any items if `any`."""

    items: list[Any]
    any: bool


@dataclass(frozen=True)
class StringShape:
    """A string, `…` standing for any characters."""

    pattern: str


def shape_parse(text: str) -> Any:
    """The shape `text` writes; ValueError if it is not one."""
    parser = _ShapeParser(text)
    try:
        shape = parser.value()
    except (ValueError, IndexError) as e:
        raise ValueError(f"not a shape: {text!r} ({e})") from e
    parser.skip()
    if parser.at < len(text):
        raise ValueError(f"not a shape: {text!r} (unexpected {text[parser.at :]!r})")
    return shape


class _ShapeParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.at : self.at + 1]

    def take(self, token: str) -> None:
        if self.peek() != token[0] or not self.text.startswith(token, self.at):
            raise ValueError(f"expected {token!r} at {self.text[self.at :]!r}")
        self.at += len(token)

    def value(self) -> Any:
        first = self.peek()
        if first == ELLIPSIS:
            self.take(ELLIPSIS)
            return ANY
        if first == "{":
            return self.object()
        if first == "[":
            return self.list()
        if first == '"':
            return StringShape(self.string())
        decoded, end = json.JSONDecoder().raw_decode(self.text, self.at)
        self.at = end
        return decoded

    def string(self) -> str:
        decoded, end = json.JSONDecoder().raw_decode(self.text, self.at)
        self.at = end
        return str(decoded)

    def object(self) -> ObjectShape:
        self.take("{")
        members: dict[str, Any] = {}
        is_open = False
        while self.peek() != "}":
            if self.peek() == ELLIPSIS:
                self.take(ELLIPSIS)
                is_open = True
            else:
                key = self.string()
                if self.peek() == ":":
                    self.take(":")
                    members[key] = self.value()
                else:
                    members[key] = ANY
            if self.peek() == ",":
                self.take(",")
        self.take("}")
        return ObjectShape(members, is_open)

    def list(self) -> ListShape:
        self.take("[")
        if self.peek() == ELLIPSIS:
            self.take(ELLIPSIS)
            self.take("]")
            return ListShape([], any=True)
        items = []
        while self.peek() != "]":
            items.append(self.value())
            if self.peek() == ",":
                self.take(",")
        self.take("]")
        return ListShape(items, any=False)


def shape_match(shape: Any, value: Any) -> bool:
    """Whether `value` (decoded JSON) has `shape`."""
    if shape is ANY:
        return True
    if isinstance(shape, ObjectShape):
        if not isinstance(value, dict) or not set(shape.members) <= set(value):
            return False
        if not shape.open and set(value) != set(shape.members):
            return False
        return all(shape_match(s, value[key]) for key, s in shape.members.items())
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return False
        return shape.any or (
            len(value) == len(shape.items)
            and all(shape_match(s, v) for s, v in zip(shape.items, value, strict=True))
        )
    if isinstance(shape, StringShape):
        return isinstance(value, str) and text_match(shape.pattern, value)
    return type(shape) is type(value) and shape == value


def text_match(pattern: str, text: str) -> bool:
    """Whether `text` is `pattern`, each `…` in it standing for any characters."""
    regex = ".*".join(re.escape(part) for part in pattern.split(ELLIPSIS))
    return re.fullmatch(regex, text, re.DOTALL) is not None
