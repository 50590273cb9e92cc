"""What an item takes from a README's Markdown (after its front matter): the description, with
its relative images and links made absolute; the preview image; the DOIs it cites.

The text is any GitLab user's: every pattern here is linear or bounded per match (a link's
text and target have a maximum length), so a README of pathological brackets costs at most
a few milliseconds more.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote

_LINK_TEXT = r"[^\]\n]{0,500}"
_TARGET = r"<[^>\n]{0,2000}>|[^\s()<>]{1,2000}"
# [text](target "title") and ![alt](target "title"), CommonMark's inline forms.
_INLINE = re.compile(
    rf"(?P<bang>!?)\[(?P<text>{_LINK_TEXT})\]\(\s*(?P<target>{_TARGET})(?P<title>\s+\"[^\"\n]{{0,500}}\")?\s*\)"
)
_IMG_TAG = re.compile(r"<img\b[^>]{0,2000}>", re.I)
_SRC = re.compile(r"""(\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A first heading, ATX (# Title) or setext (Title then a line of =).
_ATX_H1 = re.compile(r"\A\s*#[ \t]+(?P<title>[^\n]*?)[ \t]*#*[ \t]*(?:\n|\Z)")
_SETEXT_H1 = re.compile(r"\A\s*(?P<title>[^\n#][^\n]*)\n=+[ \t]*(?:\n|\Z)")
_DOI_URL = re.compile(r"^https://(?:dx\.)?doi\.org/(10\.\d{4,9}/[-._;/:a-zA-Z0-9()]+)$", re.I)
# A DOI written out anywhere: as a URL or as doi:10.x/y.
_BARE_DOI = re.compile(
    r"(?:https?://(?:dx\.)?doi\.org/|\bdoi:\s*)(10\.\d{4,9}/[^\s)\]>\"']+)", re.I
)
_WORDS = re.compile(r"\W+")


def repository_path(href: str) -> str | None:
    """A README's relative reference as a path in the repository (README is at the root):
    ``./a`` is ``a``, ``.gitlab/x`` stays, ``/x`` is from the root; None when it leaves the
    repository or names nothing."""
    href = href.strip()
    path = posixpath.normpath(href).lstrip("/") if href else ""
    if path in ("", ".", "..") or path.startswith("../"):
        return None
    return path


def is_relative(href: str) -> bool:
    """A reference into the repository: no scheme, not protocol-relative, not an anchor."""
    href = href.strip()
    return bool(href) and not (_SCHEME.match(href) or href.startswith(("//", "#", "?")))


@dataclass(frozen=True)
class FileUrls:
    """GitLab's web URLs of a project's files on its default branch."""

    web_url: str
    branch: str

    def raw(self, path: str) -> str:
        return f"{self.web_url}/-/raw/{quote(self.branch, safe='')}/{quote(path, safe='/')}"

    def blob(self, path: str) -> str:
        return f"{self.web_url}/-/blob/{quote(self.branch, safe='')}/{quote(path, safe='/')}"

    def resolve(self, href: str, image: bool) -> str:
        """An absolute URL for a relative reference (its #fragment kept), else ``href``."""
        if not is_relative(href):
            return href
        reference, hash_mark, fragment = href.partition("#")
        reference = reference.split("?", 1)[0]
        path = repository_path(reference)
        if path is None:
            return href
        url = self.raw(path) if image else self.blob(path)
        return f"{url}#{fragment}" if hash_mark and not image else url


def description(body: str, title: str | None, urls: FileUrls | None) -> str:
    """The README body as an item description: without a first heading that only repeats the
    title, with relative images and links made absolute (clients render it anywhere)."""
    text = _without_title(body, title)
    if urls is None:
        return text

    def inline(found: re.Match[str]) -> str:
        target = found.group("target")
        bare = target[1:-1] if target.startswith("<") else target
        resolved = urls.resolve(bare, image=bool(found.group("bang")))
        if resolved == bare:
            return found.group(0)
        title_part = found.group("title") or ""
        return f"{found.group('bang')}[{found.group('text')}]({resolved}{title_part})"

    def img_tag(found: re.Match[str]) -> str:
        def src(attribute: re.Match[str]) -> str:
            value = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
            return f'{attribute.group(1)}"{urls.resolve(value, image=True)}"'

        return _SRC.sub(src, found.group(0), count=1)

    text = _INLINE.sub(inline, text)
    return _IMG_TAG.sub(img_tag, text)


def _without_title(body: str, title: str | None) -> str:
    if not title:
        return body
    for pattern in (_ATX_H1, _SETEXT_H1):
        found = pattern.match(body)
        if found and _words(found.group("title")) == _words(title):
            return body[found.end() :].lstrip("\n")
    return body


def _words(text: str) -> str:
    return _WORDS.sub(" ", text.replace("`", "").replace("*", "").replace("_", " ")).strip().lower()


def preview_image(body: str) -> str | None:
    """The target of the last image whose alt text is "preview" (SharingHub's choice)."""
    found = None
    for match in _INLINE.finditer(body):
        if match.group("bang") and match.group("text").strip().lower() == "preview":
            found = match.group("target")
    if found is None:
        return None
    return found[1:-1] if found.startswith("<") else found


@dataclass(frozen=True)
class Citation:
    doi: str
    citation: str | None


def citations(body: str) -> list[Citation]:
    """The DOIs a README cites, first the main one: links to doi.org, in order, with their
    text as the citation (a leading "DOI:" removed); without such a link, the first DOI
    written out anywhere, without a citation."""
    found: list[Citation] = []
    seen: set[str] = set()
    for match in _INLINE.finditer(body):
        if match.group("bang"):
            continue
        target = match.group("target").strip("<>")
        doi_match = _DOI_URL.match(target)
        if doi_match is None or doi_match.group(1).lower() in seen:
            continue
        doi = doi_match.group(1)
        seen.add(doi.lower())
        text = match.group("text").strip()
        text = re.sub(r"^doi:\s*", "", text, flags=re.I).strip()
        found.append(Citation(doi, text or None))
    if not found:
        bare = _BARE_DOI.search(body)
        if bare:
            found.append(Citation(bare.group(1).rstrip(".,;"), None))
    return found
