"""What an item takes from a README's Markdown: the description as clients render it, the
preview image and the DOIs, the way SharingHub reads them."""

from __future__ import annotations

import time

import pytest

from indexer.stac.readme_text import FileUrls, citations, description, preview_image

FILES = FileUrls("https://gitlab.example.com/eo/flood", "main")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("# Flood model\n\nText.", "Text."),
        ("Flood Model\n===========\nText.", "Text."),
        ("#  **Flood**   `model`  #\nText.", "Text."),
        ("# Another title\n\nText.", "# Another title\n\nText."),
        ("Text first.\n# Flood model\n", "Text first.\n# Flood model\n"),
    ],
)
def test_a_first_heading_that_repeats_the_title_goes(body: str, expected: str) -> None:
    assert description(body, "Flood model", None) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("![a](img/a.png)", "![a](https://gitlab.example.com/eo/flood/-/raw/main/img/a.png)"),
        ("![a](<docs/my file.png>)",
         "![a](https://gitlab.example.com/eo/flood/-/raw/main/docs/my%20file.png)"),
        ("[b](./docs/b.md#part)",
         "[b](https://gitlab.example.com/eo/flood/-/blob/main/docs/b.md#part)"),
        ("[c](/c.md)", "[c](https://gitlab.example.com/eo/flood/-/blob/main/c.md)"),
        ("[d](.gitlab/d.md)", "[d](https://gitlab.example.com/eo/flood/-/blob/main/.gitlab/d.md)"),
        ("[up](../../other)", "[up](../../other)"),  # leaves the repository: as written
        ("[e](#anchor) [f](mailto:x@example.com) [g](//cdn.example.com/g.png)",
         "[e](#anchor) [f](mailto:x@example.com) [g](//cdn.example.com/g.png)"),
        ("<img alt='x' src='a.png'>",
         '<img alt=\'x\' src="https://gitlab.example.com/eo/flood/-/raw/main/a.png">'),
    ],
)  # fmt: skip
def test_relative_images_and_links_become_gitlab_urls(markdown: str, expected: str) -> None:
    assert description(markdown, None, FILES) == expected


def test_pathological_brackets_cost_little() -> None:
    hostile = "[" * 20_000 + "](" * 10_000 + "![x](" * 5_000
    started = time.perf_counter()
    description(hostile, "t", FILES)
    citations(hostile)
    preview_image(hostile)
    assert time.perf_counter() - started < 5  # quadratic backtracking would take minutes


def test_the_last_preview_image_wins() -> None:
    body = "![preview](a.png)\n![Preview ](<b c.jpg>)\n![other](d.png)"
    assert preview_image(body) == "b c.jpg"
    assert preview_image("![diagram](a.png)") is None


def test_dois_are_read_as_sharinghub_reads_them() -> None:
    body = (
        "[DOI: The main paper](https://doi.org/10.1000/main) and "
        "[another](https://doi.org/10.1000/second), [again](https://doi.org/10.1000/MAIN), "
        "[not a doi link](https://example.com/10.1000/x)."
    )
    found = citations(body)
    assert [(c.doi, c.citation) for c in found] == [
        ("10.1000/main", "The main paper"),
        ("10.1000/second", "another"),
    ]
    bare = citations("Published as doi:10.5281/zenodo.42.")
    assert [(c.doi, c.citation) for c in bare] == [("10.5281/zenodo.42", None)]
    assert citations("no DOI here") == []
