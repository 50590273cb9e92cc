"""Glob patterns of asset rules, matched against repository paths without backtracking.

Semantics, SharingHub's (``PurePath.match``) plus ``**``:

- a pattern without ``**`` matches from the right: ``*.tif`` matches ``a/b/c.tif``, and
  ``models/*.onnx`` matches ``x/models/m.onnx``; each segment is an fnmatch pattern
  (``*`` and ``?`` within one segment, ``[abc]``, ``[!abc]``);
- with ``**`` the pattern matches the whole path, a ``**`` segment standing for any number
  of segments (none too): ``data/**/*.tif``, ``**/preview.png``.

A regular expression translated from a glob backtracks: a pattern with a dozen ``**``
took seconds of CPU per file. Here a segment is matched by the two-pointer wildcard
algorithm and the segments by a table over (pattern segment, path segment), so a match
costs at most the product of the lengths, whatever the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from indexer.errors import Invalid

# A real rule needs one or two (data/**/*.tif, **/preview.png); each one more multiplies
# the work of matching a deep path.
MAX_DOUBLE_STARS = 4
Token = tuple[str, str]  # ("lit", c) | ("any", "") | ("star", "") | ("set", chars) | ("not", chars)


@dataclass(frozen=True)
class Glob:
    pattern: str

    @cached_property
    def _segments(self) -> list[Segment | None]:
        """Each segment's matcher; None for a ``**`` segment."""
        return [None if part == "**" else Segment(part) for part in _parts(self.pattern)]

    @cached_property
    def _recursive(self) -> bool:
        return any(segment is None for segment in self._segments)

    def matches(self, path: str) -> bool:
        return self.matches_parts(_parts(path))

    def matches_parts(self, parts: list[str]) -> bool:
        """``matches`` for a path already split (``parts``), as a caller matching many
        globs against the same files splits each file once."""
        segments = self._segments
        if len(segments) == 1 and segments[0] is not None:  # "*.tif": the file name only
            return segments[0].matches(parts[-1]) if parts else False
        if not self._recursive:
            if len(segments) > len(parts):
                return False
            tail = parts[len(parts) - len(segments) :]
            return all(
                segment.matches(part)
                for segment, part in zip(segments, tail, strict=True)
                if segment is not None
            )
        return _path_matches(segments, parts)

    def cost(self, depth: int) -> int:
        """At most how many segment comparisons matching a path of ``depth`` segments takes:
        what a project's rules may spend is bounded by their sum."""
        return len(self._segments) * (depth if self._recursive else 1)


def compile_glob(pattern: str, max_chars: int) -> Glob:
    """A glob for ``pattern``; ``Invalid`` when it is empty, too long or malformed."""
    if len(pattern) > max_chars:
        raise Invalid(f"the glob is longer than {max_chars} characters")
    parts = _parts(pattern)
    if not parts:
        raise Invalid("the glob is empty")
    if parts.count("**") > MAX_DOUBLE_STARS:
        raise Invalid(f"the glob has more than {MAX_DOUBLE_STARS} ** segments")
    glob = Glob(pattern)
    _ = glob._segments  # parse now, so a malformed class is refused here
    return glob


class Segment:
    """One segment of a glob. Most are plain names or one star (``*.tif``, ``model.onnx``),
    matched with string methods; the rest by the two-pointer algorithm."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        kinds = [kind for kind, _ in self.tokens]
        self.literal = "".join(v for _, v in self.tokens) if set(kinds) <= {"lit"} else None
        self.affixes: tuple[str, str] | None = None
        if kinds.count("star") == 1 and set(kinds) <= {"lit", "star"}:
            star = kinds.index("star")
            self.affixes = (
                "".join(v for _, v in self.tokens[:star]),
                "".join(v for _, v in self.tokens[star + 1 :]),
            )

    def matches(self, text: str) -> bool:
        if self.literal is not None:
            return text == self.literal
        if self.affixes is not None:
            prefix, suffix = self.affixes
            return (
                len(text) >= len(prefix) + len(suffix)
                and text.startswith(prefix)
                and text.endswith(suffix)
            )
        return _segment_matches(self.tokens, text)


def parts_of(path: str) -> list[str]:
    """A path's segments, as globs match them."""
    return _parts(path)


def _parts(path: str) -> list[str]:
    """A path's segments as PurePath sees them: no empty ones, no ``.``."""
    return [part for part in path.split("/") if part not in ("", ".")]


def _tokens(segment: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            if not tokens or tokens[-1][0] != "star":  # ** inside a segment is one *
                tokens.append(("star", ""))
        elif char == "?":
            tokens.append(("any", ""))
        elif char == "[":
            end = segment.find("]", index + 2)
            if end == -1:
                tokens.append(("lit", char))
            else:
                body = segment[index + 1 : end]
                negated = body.startswith("!")
                tokens.append(("not" if negated else "set", _expand(body[1:] if negated else body)))
                index = end
        else:
            tokens.append(("lit", char))
        index += 1
    return tokens


def _expand(body: str) -> str:
    """The characters of a class body such as ``a-z0-9_``."""
    chars: list[str] = []
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            low, high = body[index], body[index + 2]
            if ord(high) - ord(low) > 1024:
                raise Invalid("a glob's character range is too wide")
            chars.extend(chr(code) for code in range(ord(low), ord(high) + 1))
            index += 3
        else:
            chars.append(body[index])
            index += 1
    return "".join(chars)


def _token_matches(token: Token, char: str) -> bool:
    kind, value = token
    if kind == "lit":
        return char == value
    if kind == "any":
        return True
    if kind == "set":
        return char in value
    return char not in value  # "not"


def _segment_matches(tokens: list[Token], text: str) -> bool:
    """Wildcard matching with one remembered star: linear in practice, at most
    len(tokens) x len(text), never exponential."""
    t = s = 0
    star_token, star_text = -1, 0
    while s < len(text):
        if t < len(tokens) and tokens[t][0] == "star":
            star_token, star_text = t, s
            t += 1
        elif t < len(tokens) and _token_matches(tokens[t], text[s]):
            t += 1
            s += 1
        elif star_token >= 0:
            t = star_token + 1
            star_text += 1
            s = star_text
        else:
            return False
    while t < len(tokens) and tokens[t][0] == "star":
        t += 1
    return t == len(tokens)


def _path_matches(segments: list[Segment | None], parts: list[str]) -> bool:
    """Whole-path matching with ``**`` segments: a table of which (pattern segment, path
    segment) suffixes match, filled from the end."""
    rows, cols = len(segments), len(parts)
    # can[i][j]: segments[i:] match parts[j:]
    can = [[False] * (cols + 1) for _ in range(rows + 1)]
    can[rows][cols] = True
    for i in range(rows - 1, -1, -1):
        segment = segments[i]
        for j in range(cols, -1, -1):
            if segment is None:  # ** : none of the parts, or one more
                can[i][j] = can[i + 1][j] or (j < cols and can[i][j + 1])
            else:
                can[i][j] = j < cols and can[i + 1][j + 1] and segment.matches(parts[j])
    return can[0][0]
