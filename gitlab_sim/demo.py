"""The demo world `make up` serves: an Earth-observation and ML team's GitLab, small enough to
read in five minutes, with users who see different things.

    root    admin (sees everything)
    alice   Developer of eo-lab: reads its internal and private projects too
    bob     external user, Reporter of one private project only
    carol   signed-in user in no group: public and internal projects
    (anonymous: public projects only)
"""

from __future__ import annotations

import struct
import zlib

from gitlab_sim.world import (
    DEVELOPER,
    OWNER,
    REPORTER,
    Group,
    Membership,
    Project,
    Release,
    ReleaseLink,
    RepoFile,
    Token,
    User,
    World,
)

USERS = {
    "root": User(1, "root", "Administrator", is_admin=True),
    "alice": User(2, "alice", "Alice Martin"),
    "bob": User(3, "bob", "Bob Keller", external=True),
    "carol": User(4, "carol", "Carol Diaz"),
}
TOKENS = {name: f"glpat-demo-{name}-0123456789" for name in USERS}

FLOOD_README = """---
title: Flood segmentation on Sentinel-1
license: Apache-2.0
extent:
  spatial: [-66.7, 17.9, -65.2, 18.6]
  temporal: ["2021-01-01T00:00:00Z", "2023-12-31T23:59:59Z"]
providers:
  - {name: EO Lab, roles: [producer], url: https://eo-lab.example.org}
related:
  dataset: {gitlab}/eo-lab/data/sen1floods11
mlm:
  name: Flood UNet
  architecture: U-Net
  tasks: [semantic-segmentation]
  framework: onnx
  input:
    - name: Sentinel-1 VV/VH
      bands: []
      input: {shape: [-1, 2, 512, 512], dim_order: [batch, channel, height, width], data_type: float32}
  output:
    - name: flood mask
      tasks: [semantic-segmentation]
      result: {shape: [-1, 1, 512, 512], dim_order: [batch, channel, height, width], data_type: uint8}
---
# Flood segmentation on Sentinel-1

A U-Net that maps flooded areas from Sentinel-1 radar backscatter, trained on Sen1Floods11.

![preview](docs/preview.png)

Cite it as [DOI: Mapping floods with radar](https://doi.org/10.5281/zenodo.5555555).
"""

SEN1FLOODS_README = """---
title: Sen1Floods11
license: CC-BY-4.0
extent:
  spatial: [-180, -60, 180, 75]
  temporal: ["2016-01-01T00:00:00Z", "2019-12-31T23:59:59Z"]
keywords: [flood, sentinel-1, sentinel-2, segmentation]
label:
  properties: null
  description: Hand-labelled flood extents
  type: raster
  tasks: [segmentation]
---
# Sen1Floods11

4,831 chips of 512x512 pixels over 11 flood events, with Sentinel-1 and Sentinel-2 images and
hand-labelled water masks.
"""

WINE_README = """---
title: Wine quality classifier
license: MIT
assets:
  - glob: "model/*.joblib"
    roles: [data, mlm:model]
---
# Wine quality classifier

A gradient-boosted classifier of Vinho Verde wines from their physico-chemical tests.

![preview](docs/preview.png)
"""


def _chart_png(width: int = 200, height: int = 120) -> bytes:
    """A real picture, a small bar chart as a PNG (the browser tests check that the private
    thumbnail is drawn)."""
    bars = [(20, 70), (60, 40), (100, 55), (140, 20)]  # (left, top) of 30-pixel-wide bars
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # no filter
        for x in range(width):
            in_bar = any(left <= x < left + 30 and top <= y < height - 10 for left, top in bars)
            rows += b"\x7b\x1e\x3a" if in_bar else b"\xf3\xe9\xec"

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))  # fmt: skip

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))  # fmt: skip


PASSWORDS = {name: f"{name}-demo-password" for name in ("root", "alice", "bob", "carol")}

MAPPER_README = """---
title: Flood mapper
---
# Flood mapper

A processing service that runs the flood segmentation model on a Sentinel-1 scene and
publishes the mask as a Cloud-Optimized GeoTIFF.
"""


def _lfs(size: int, seed: str) -> str:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{seed * 64}\nsize {size}\n"


def demo_world() -> World:
    world = World(users=list(USERS.values()))
    for name, user in USERS.items():
        user.password = PASSWORDS[name]  # the sign-in page's (OAuth)
    for name, user in USERS.items():
        scopes = ["api", "admin_mode"] if user.is_admin else ["read_api"]
        world.tokens.append(Token(user.id, TOKENS[name], user.id, f"{name}-demo", scopes))
    world.groups = [
        Group(1, "eo-lab", "EO Lab", None, "public", "Earth observation lab."),
        Group(2, "models", "Models", 1, "internal", "The lab's models."),
        Group(3, "data", "Data", 1, "public", "The lab's datasets."),
        Group(4, "processors", "Processors", 1, "internal", "Processing services."),
        Group(5, "wine-co", "Wine Co", None, "private", "A wine producer's data team."),
    ]
    world.memberships = [
        Membership(USERS["alice"].id, "group", 1, DEVELOPER),
        Membership(USERS["bob"].id, "project", 3, REPORTER),
        Membership(USERS["root"].id, "group", 5, OWNER),
    ]
    gitlab = "{gitlab}"
    projects = [
        Project(1, "flood-segmentation", "Flood segmentation", "group", 2, "internal",
                topics=["sharinghub:aimodel", "flood", "sentinel-1", "onnx"],
                description="U-Net flood maps from Sentinel-1.",
                created_at="2024-02-01T09:00:00.000Z", last_activity_at="2026-05-20T10:00:00.000Z",
                license_key="apache-2.0", star_count=12,
                files={"README.md": RepoFile("README.md", FLOOD_README.replace("{gitlab}", gitlab)),
                       "models/flood-unet.onnx": RepoFile("models/flood-unet.onnx", _lfs(94_000_000, "a"), "onnx weights"),
                       "docs/preview.png": RepoFile("docs/preview.png", "png")},
                releases=[Release("v1.2.0", "Spring 2026", "Better recall on urban floods.",
                                  "2026-04-02T08:00:00.000Z", "2026-04-02T08:00:00.000Z",
                                  [ReleaseLink(1, "flood-unet-v1.2.0.onnx", "https://downloads.example.org/flood-unet-v1.2.0.onnx", "package")])]),
        Project(2, "sen1floods11", "Sen1Floods11", "group", 3, "public",
                topics=["sharinghub:dataset", "flood", "sentinel-1"],
                description="Flood event chips with labels.",
                created_at="2023-06-10T09:00:00.000Z", last_activity_at="2026-03-01T12:00:00.000Z",
                license_key="cc-by-4.0", star_count=30,
                files={"README.md": RepoFile("README.md", SEN1FLOODS_README),
                       "chips/bolivia/S1.tif": RepoFile("chips/bolivia/S1.tif", _lfs(2_100_000, "b"), "tif"),
                       "chips/ghana/S1.tif": RepoFile("chips/ghana/S1.tif", _lfs(2_050_000, "c"), "tif"),
                       "labels/events.geojson": RepoFile("labels/events.geojson", '{"type": "FeatureCollection", "features": []}')}),
        Project(3, "wine-quality", "Wine quality classifier", "group", 5, "private",
                topics=["sharinghub:aimodel", "tabular", "wine"],
                description="Vinho Verde quality from lab tests.",
                created_at="2025-01-15T09:00:00.000Z", last_activity_at="2026-05-02T16:00:00.000Z",
                license_key="mit",
                files={"README.md": RepoFile("README.md", WINE_README),
                       "model/classifier.joblib": RepoFile("model/classifier.joblib", _lfs(120_000, "d"), "joblib"),
                       "docs/preview.png": RepoFile("docs/preview.png", _chart_png().decode("latin-1"), encoding="latin-1"),
                       "data/winequality-red.csv": RepoFile("data/winequality-red.csv", "fixed acidity;quality\n7.4;5\n")}),
        Project(4, "flood-mapper", "Flood mapper", "group", 4, "internal",
                topics=["sharinghub:processor", "flood"],
                description="Runs the flood model on a scene.",
                created_at="2025-03-01T09:00:00.000Z", last_activity_at="2026-04-11T09:30:00.000Z",
                files={"README.md": RepoFile("README.md", MAPPER_README),
                       "app.py": RepoFile("app.py", "print('map floods')\n")},
                releases=[Release("v0.3.0", "First public run", "Runs on one scene.",
                                  "2026-04-11T09:00:00.000Z", "2026-04-11T09:00:00.000Z")]),
    ]  # fmt: skip
    subjects = [
        ("crop-type-mapping", "sharinghub:aimodel", 2, "internal", "Crop types from Sentinel-2 time series."),
        ("burned-area-detector", "sharinghub:aimodel", 2, "internal", "Burned areas after wildfires."),
        ("ship-detection", "sharinghub:aimodel", 2, "private", "Ships in SAR scenes."),
        ("cloud-mask", "sharinghub:aimodel", 2, "internal", "Cloud and shadow masks."),
        ("eurosat", "sharinghub:dataset", 3, "public", "Land-use patches from Sentinel-2."),
        ("bigearthnet-subset", "sharinghub:dataset", 3, "public", "Multi-label patches."),
        ("glacier-outlines", "sharinghub:dataset", 3, "public", "Glacier outlines of the Alps."),
        ("urban-footprints", "sharinghub:dataset", 3, "public", "Building footprints."),
        ("tile-server", "sharinghub:processor", 4, "internal", "Serves COG tiles."),
        ("ndvi-pipeline", "sharinghub:processor", 4, "internal", "NDVI composites."),
        ("labelling-tool", "sharinghub:tools", 1, "public", "A labelling tool for chips."),
        ("stac-utils", "sharinghub:tools", 1, "public", "Helpers for STAC catalogs."),
        ("flood-dashboard", "sharinghub:space", 1, "public", "Live flood maps."),
        ("wine-sales-forecast", "sharinghub:aimodel", 5, "private", "Sales forecasts."),
        ("wine-lab-results", "sharinghub:dataset", 5, "private", "Lab results by vintage."),
    ]  # fmt: skip
    for offset, (path, topic, group_id, visibility, description) in enumerate(subjects, start=10):
        title = path.replace("-", " ").capitalize()
        readme = f"---\ntitle: {title}\n---\n# {title}\n\n{description}\n"
        projects.append(
            Project(
                offset,
                path,
                title,
                "group",
                group_id,
                visibility,  # type: ignore[arg-type]
                topics=[topic],
                description=description,
                created_at="2025-06-01T09:00:00.000Z",
                last_activity_at=f"2026-0{1 + offset % 5}-{10 + offset % 18:02d}T08:00:00.000Z",
                files={"README.md": RepoFile("README.md", readme)},
            )
        )
    world.projects = projects
    world.changed()
    return world


def fill_gitlab_url(world: World) -> None:
    """READMEs link to the demo GitLab itself: fill in its address once it is known."""
    for project in world.projects:
        for file in project.files.values():
            file.content = file.content.replace("{gitlab}", world.instance_url)
    world.changed()
