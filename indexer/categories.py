"""Categories: each is a STAC collection, and a GitLab project belongs to it when it carries
the category's topic. These are SharingHub's defaults; a categories file replaces them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    gitlab_topic: str
    description: str = ""


DEFAULT_CATEGORIES = (
    Category("ai-model", "AI Models", "sharinghub:aimodel", "Machine learning models."),
    Category("dataset", "Datasets", "sharinghub:dataset", "Datasets for training and testing."),
    Category("processor", "Processors", "sharinghub:processor", "Processing services."),
    Category("tools", "Tools", "sharinghub:tools", "Tools for ML and EO work."),
    Category("dashboard", "Dashboards", "sharinghub:space", "Interactive dashboards."),
)


def categories_of(topics: Iterable[str], categories: Iterable[Category]) -> list[Category]:
    """The categories a project with these topics belongs to (GitLab topics ignore case)."""
    lowered = {topic.lower() for topic in topics}
    return [category for category in categories if category.gitlab_topic.lower() in lowered]
