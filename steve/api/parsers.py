"""The JSON parser of every API view: bounded depth, only text PostgreSQL can store
(no lone surrogates, no NUL), and no object naming a member twice.

Checked once, here, so no view meets a RecursionError or a database encode error. A view
whose numbers are amounts (corrections) takes ExactNumbersJSONParser, which also marks a
number a float cannot hold exactly.
"""

import codecs
import json as std_json
from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from steve.jsonnumbers import exact_float

# Steve's bodies nest a few levels (metadata allows 2); 32 leaves room and stops bombs.
MAX_JSON_DEPTH = 32


class BodyRefused(ParseError):
    """A parsed body Steve refuses; the error handler answers 400 with `problem_code`.

    (Not an ApiProblem: DRF imports the parser while steve.api.errors is loading.)
    """

    def __init__(
        self, detail: str, *, problem_code: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.problem_code = problem_code
        self.errors = errors or []


def _too_deep() -> BodyRefused:
    return BodyRefused(
        f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.", problem_code="JSON_TOO_DEEP"
    )


def _lone_surrogate(path: str) -> BodyRefused:
    # The path may hold the bad key itself; the answer must be encodable.
    path = path.encode("utf-8", "backslashreplace").decode()
    return BodyRefused(
        "Text must be valid Unicode: the body has a lone surrogate (\\ud800-\\udfff).",
        problem_code="INVALID_UNICODE",
        errors=[{"field": path or "body", "message": "Not valid Unicode text.", "code": "invalid"}],
    )


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _lone_surrogate(path) from None
    if "\x00" in text:  # PostgreSQL cannot store it
        raise BodyRefused(
            "Text must not contain NUL (\\u0000) characters.",
            problem_code="INVALID_CHARACTERS",
            errors=[{"field": path or "body", "message": "Contains NUL.", "code": "invalid"}],
        )


class _Repeated(dict[str, Any]):
    """An object of the body that named a member more than once (`repeated` lists which).

    json keeps the last value of a repeated name, so `"expectedVersion": 1, ...,
    "expectedVersion": null` read as no version, and a proxy or log that keeps the first
    sees another body than Steve: refused (as a query parameter given twice is), never
    silently one of them. Only ever built to be refused by check_json, which knows where
    the object is in the body.
    """

    repeated: list[str]


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) == len(pairs):
        return members
    repeated, seen = _Repeated(members), set()
    repeated.repeated = []
    for key, _ in pairs:
        if key in seen:
            repeated.repeated.append(key)
        seen.add(key)
    return repeated


def _repeated_member(path: str, key: str) -> BodyRefused:
    where = f"{path}.{key}" if path else key
    where = where.encode("utf-8", "backslashreplace").decode()  # as _lone_surrogate
    return BodyRefused(
        "The body is not valid JSON: an object names a member more than once.",
        problem_code="INVALID_JSON",
        errors=[
            {"field": where, "message": "The member is given more than once.", "code": "repeated"}
        ],
    )


def check_json(data: Any) -> None:
    """Refuse a parsed body nested too deep, holding a lone surrogate (key or value) or
    an object that names a member twice."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
            continue
        if not isinstance(value, (Mapping, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, _Repeated):
            raise _repeated_member(path, value.repeated[0])
        if isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                _check_text(str(key), where)
                stack.append((item, where, depth + 1))
        else:
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


class StrictJSONDecoder(std_json.JSONDecoder):
    """The parser's reading of JSON for text that is no request body (the admin's JSON
    fields): no NaN or Infinity (no JSON has them, and the database refused the text),
    and an object naming a member twice marked for check_json to refuse."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(parse_constant=json.strict_constant, object_pairs_hook=_members)
        super().__init__(**kwargs)


class BoundedJSONParser(JSONParser):
    # json's own float unless a view's parser says otherwise (ExactNumbersJSONParser).
    parse_float: Callable[[str], float] | None = None

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = self._load(stream, parser_context or {})
        except RecursionError:  # json's own parser gives up near the recursion limit
            raise _too_deep() from None
        check_json(data)
        return data

    def _load(self, stream: Any, parser_context: dict[str, Any]) -> Any:
        # DRF's JSONParser.parse with hooks it has none for: the members' and parse_float.
        decoded = codecs.getreader(_without_bom(get_encoding(parser_context)))(stream)
        try:
            return json.load(
                decoded,
                parse_constant=json.strict_constant if self.strict else None,
                parse_float=self.parse_float,
                object_pairs_hook=_members,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _without_bom(encoding: str) -> str:
    """UTF-8 read as utf-8-sig: one byte order mark leading the body is dropped. RFC 8259
    8.1 lets a parser ignore it, and .NET and PowerShell writers send one; json refused
    it, and the 400 INVALID_JSON did not say why. A BOM anywhere else is still not JSON."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


class ExactNumbersJSONParser(BoundedJSONParser):
    """For bodies whose numbers are stored as amounts (corrections): a number a float
    cannot hold exactly is marked (steve.jsonnumbers), so the service refuses it instead
    of storing the rounded float. Only views that set it pay for the check."""

    parse_float = staticmethod(exact_float)
