"""The JSON parser of every API view: bounded depth, only text PostgreSQL can store
(no lone surrogates, no NUL), and no object naming a member twice.

Checked once, here, so no view meets a RecursionError or a database encode error. A view
whose numbers are amounts (corrections) takes ExactNumbersJSONParser, which also marks a
number a float cannot hold exactly.
"""

import codecs
import json as std_json
from collections.abc import Callable, Iterator, Mapping
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


# Where a value is in the body: its members' names and items' indexes from the top.
Path = tuple[str | int, ...]


def _spelt(path: Path) -> str:
    """``("metadata", "lines", 3, "note")`` as errors name it: ``metadata.lines[3].note``."""
    where = ""
    for part in path:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where = f"{where}.{part}" if where else part
    return where


def _lone_surrogate(path: Path) -> BodyRefused:
    # The path may hold the bad key itself; the answer must be encodable.
    where = _spelt(path).encode("utf-8", "backslashreplace").decode()
    return BodyRefused(
        "Text must be valid Unicode: the body has a lone surrogate (\\ud800-\\udfff).",
        problem_code="INVALID_UNICODE",
        errors=[
            {"field": where or "body", "message": "Not valid Unicode text.", "code": "invalid"}
        ],
    )


def _check_text(text: str, path: Path) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _lone_surrogate(path) from None
    if "\x00" in text:  # PostgreSQL cannot store it
        raise BodyRefused(
            "Text must not contain NUL (\\u0000) characters.",
            problem_code="INVALID_CHARACTERS",
            errors=[
                {"field": _spelt(path) or "body", "message": "Contains NUL.", "code": "invalid"}
            ],
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


def _repeated_member(path: Path) -> BodyRefused:
    where = _spelt(path).encode("utf-8", "backslashreplace").decode()  # as _lone_surrogate
    return BodyRefused(
        "The body is not valid JSON: an object names a member more than once.",
        problem_code="INVALID_JSON",
        errors=[
            {"field": where, "message": "The member is given more than once.", "code": "repeated"}
        ],
    )


# The members or items of each object or array the walk is in, outermost first, and where.
_Open = list[tuple[Iterator[tuple[str | int, Any]], Path]]


def check_json(data: Any) -> None:
    """Refuse a parsed body nested too deep, holding a lone surrogate (key or value) or
    an object that names a member twice.

    Walked depth first, one iterator for each object or array it is in, and a path spelt
    only for the value refused: what the walk holds is the body's depth, not its size. It
    pushed every value with its spelt path, and a 24-MB array of twelve million numbers
    (under the request cap) held ~1.6 GB of the web worker for ~30 s."""
    if isinstance(data, str):
        _check_text(data, ())
    opened: _Open = []
    _open(data, (), opened)
    while opened:
        items, path = opened[-1]
        for key, item in items:
            if isinstance(key, str):
                _check_text(key, (*path, key))
            if isinstance(item, str):
                _check_text(item, (*path, key))
            elif isinstance(item, (Mapping, list)):
                _open(item, (*path, key), opened)
                break  # its own values next; this one's iterator resumes after them
        else:
            opened.pop()


def _open(value: Any, path: Path, opened: _Open) -> None:
    """Start walking ``value`` if it is an object or an array (``opened`` holds those it is in)."""
    if not isinstance(value, (Mapping, list)):
        return
    if len(opened) >= MAX_JSON_DEPTH:
        raise _too_deep()
    if isinstance(value, _Repeated):
        raise _repeated_member((*path, value.repeated[0]))
    opened.append((iter(value.items()) if isinstance(value, Mapping) else enumerate(value), path))


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
