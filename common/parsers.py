"""The JSON parser of every endpoint: DRF's, with a limit on how deeply a body may nest."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from common.conf import dualauth_settings


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` nests more than `limit` lists and objects inside one another."""
    # A stack, not recursion: the point is to survive documents too deep to recurse into.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """JSON bodies nested deeper than `JSON_MAX_DEPTH` are a 400, never a RecursionError."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """The parsed body, refused when it nests too deeply."""
        limit = dualauth_settings.JSON_MAX_DEPTH
        too_deep = ParseError(f"JSON nests deeper than {limit} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json's decoder recurses once per level: far past the limit, it runs out of stack.
            raise too_deep from None
        if depth_exceeds(data, limit):
            raise too_deep
        return data
