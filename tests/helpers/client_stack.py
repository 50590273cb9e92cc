"""The stack of the client tests: the demo world, plus projects whose READMEs exercise each
rule of the item mapping, served by the simulator, indexed into OpenSearch, and answered by
`labstac serve` under uvicorn; the clients are the real ones (pystac-client, pystac)."""

from __future__ import annotations

from dataclasses import dataclass

from support import ApiServer

from gitlab_sim.demo import TOKENS, demo_world
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Project, RepoFile, World
from indexer.index.runtime import IndexRuntime

STAC = "/api/v1/stac"

# Each README exercises rules of docs/items.md; the tests name the project they read.
MAPPING_PROJECTS = {
    # A ring written clockwise, a README heading that repeats the title, relative images and
    # links, DOIs as links, an open-ended time range, the Version extension, a preview under
    # a folder whose name starts with a dot, a <collection>+<url> link.
    "coastline-model": (
        "sharinghub:aimodel",
        """---
title: Coastline model
version: 2.1
extent:
  spatial: "POLYGON((1.5 43.25, 1.5 44.125, 2.75 44.125, 2.75 43.25, 1.5 43.25))"
  temporal: ["2022-03-01T00:00:00Z", null]
links:
  - rel: derived_from
    href: dataset+{gitlab}/eo-lab/data/sen1floods11/-/tree/main
---
# Coastline model

![preview](docs/old.png)

Details in [the model card](docs/card.md) and ![diagram](./docs/diagram.svg).

![preview](.gitlab/preview.png)

Cite [DOI: Coastlines from space](https://doi.org/10.1000/coast-1) and
[Shorelines](https://doi.org/10.1000/shore-2).
""",
    ),
    # Two categories: the asset rules of both, whichever collection the item is read from.
    "flood-emulator": (
        "sharinghub:aimodel sharinghub:dataset",
        """---
title: Flood emulator
---
A model and the data it made.
""",
    ),
}


@dataclass
class ClientStack:
    world: World
    sim: SimulatorServer
    runtime: IndexRuntime
    api: ApiServer

    @property
    def stac(self) -> str:
        return f"{self.api.url}{STAC}"

    def headers(self, user: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": TOKENS[user]}


def mapping_world() -> World:
    world = demo_world()
    for offset, (path, (topics, readme)) in enumerate(MAPPING_PROJECTS.items(), start=100):
        files = {"README.md": RepoFile("README.md", readme)}
        for name in ("docs/old.png", ".gitlab/preview.png", "docs/card.md", "docs/diagram.svg",
                     "model/weights.pt", "data/flood.geojson"):  # fmt: skip
            files[name] = RepoFile(name, name)
        world.projects.append(
            Project(offset, path, path.replace("-", " ").capitalize(), "group", 1, "public",
                    topics=topics.split(), created_at="2021-05-01T00:00:00.000Z",
                    last_activity_at="2026-02-01T00:00:00.000Z", files=files)
        )  # fmt: skip
    world.changed()
    return world
