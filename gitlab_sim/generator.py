"""A seeded generator of GitLab worlds of any size, with realistic nesting, visibility and
topic mixes, shares, READMEs with SharingHub front matter, and a guaranteed minimum of the
cases that permission code gets wrong (see ``TRICKY_CASES``).

    generate(seed=7, users=20, groups=15, projects=50)         # tests
    generate(seed=1, users=2000, groups=1500, projects=100000)  # benchmarks
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from gitlab_sim.world import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    MINIMAL_ACCESS,
    OWNER,
    PLANNER,
    REPORTER,
    Group,
    GroupShare,
    Membership,
    Project,
    ProjectShare,
    Release,
    ReleaseLink,
    RepoFile,
    Token,
    User,
    Visibility,
    World,
)

CATEGORY_TOPICS = (
    "sharinghub:aimodel",
    "sharinghub:dataset",
    "sharinghub:processor",
    "sharinghub:tools",
    "sharinghub:space",
)
OTHER_TOPICS = (
    "onnx", "pytorch", "tensorflow", "sentinel-1", "sentinel-2", "landsat", "flood",
    "segmentation", "classification", "tabular", "wine", "crops", "forest", "urban", "sar",
)  # fmt: skip
WORDS = (
    "flood", "crop", "forest", "urban", "water", "cloud", "snow", "burn", "ship", "road",
    "wine", "soil", "glacier", "coast", "wheat", "rice", "solar", "wind", "fire", "ice",
)  # fmt: skip
MODEL_TASKS = ("semantic-segmentation", "classification", "object-detection")
KINDS = ("segmentation", "detection", "classifier", "mapper", "dataset", "pipeline", "index")
LICENSES = ("mit", "apache-2.0", "cc-by-4.0", "gpl-3.0", "bsd-3-clause", None)
LEVELS_WEIGHTED = (
    (GUEST, 20), (PLANNER, 5), (REPORTER, 25), (DEVELOPER, 30), (MAINTAINER, 12), (OWNER, 8),
)  # fmt: skip
TODAY = "2026-06-15"  # generated worlds pin "today", so expiry is deterministic
PAST, FUTURE = "2026-01-31", "2027-12-31"

# The cases a permission implementation gets wrong; every generated world holds at least
# ``minimum_tricky(projects)`` of each.
TRICKY_CASES = (
    "inherited_membership",
    "share_through_invited_ancestor",
    "share_capped",
    "group_share",
    "expired_membership",
    "external_user_member",
    "members_only_repository_in_public_project",
    "planner_member",
    "minimal_access_member",
    "personal_project_share",
)


def minimum_tricky(projects: int) -> int:
    return max(1, projects // 100)


@dataclass
class _Builder:
    rng: random.Random
    world: World

    def pick_level(self) -> int:
        levels, weights = zip(*LEVELS_WEIGHTED, strict=True)
        level: int = self.rng.choices(levels, weights)[0]
        return level

    def member(
        self, user: User, kind: str, source_id: int, level: int, expires: str | None = None
    ) -> None:
        self.world.memberships.append(
            Membership(user.id, kind, source_id, level, expires_at=expires)  # type: ignore[arg-type]
        )


def generate(seed: int, users: int = 20, groups: int = 15, projects: int = 50) -> World:
    rng = random.Random(seed)
    world = World(today_override=TODAY)
    builder = _Builder(rng, world)
    _make_users(builder, users)
    _make_groups(builder, groups)
    _make_projects(builder, projects)
    _make_memberships(builder)
    _make_shares(builder)
    _guarantee_tricky_cases(builder, minimum_tricky(projects))
    world.changed()
    return world


# ------------------------------------------------------------------------ users


def _make_users(b: _Builder, count: int) -> None:
    rng = b.rng
    for user_id in range(1, count + 1):
        # The first users cover one of each kind, however small the world.
        if user_id <= 3:
            role = ("admin", "external", "blocked")[user_id - 1] if count >= 5 else "user"
            role = "admin" if user_id == 1 else role
        else:
            role = rng.choices(["user", "external", "blocked", "admin", "bot"], [86, 7, 3, 2, 2])[0]
        user = User(
            id=user_id,
            username=f"user{user_id}" if role != "bot" else f"bot{user_id}",
            name=f"User {user_id}",
            state="blocked" if role == "blocked" else "active",
            is_admin=role == "admin",
            external=role == "external",
            bot=role == "bot",
        )
        b.world.users.append(user)
        # Every user has a working token; some have others that teach the edge cases.
        b.world.tokens.append(
            _token(b, user, "main", ["api"] if rng.random() < 0.7 else ["read_api"])
        )
        if user.is_admin:
            b.world.tokens.append(_token(b, user, "admin-mode", ["api", "admin_mode"]))
        extra = rng.random()
        if extra < 0.1:
            b.world.tokens.append(_token(b, user, "read-user-only", ["read_user"]))
        elif extra < 0.15:
            b.world.tokens.append(_token(b, user, "expired", ["api"], expires=PAST))
        elif extra < 0.2:
            revoked = _token(b, user, "revoked", ["api"])
            revoked.revoked = True
            b.world.tokens.append(revoked)


def _token(
    b: _Builder, user: User, name: str, scopes: list[str], expires: str | None = FUTURE
) -> Token:
    secret = "".join(b.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=20))
    return Token(
        id=len(b.world.tokens) + 1,
        token=f"glpat-{secret}",
        user_id=user.id,
        name=name,
        scopes=scopes,
        expires_at=expires,
    )


# ----------------------------------------------------------------------- groups


_VISIBILITY_ORDER = {"private": 0, "internal": 1, "public": 2}


def _at_most(rng: random.Random, ceiling: Visibility, weights: tuple[int, int, int]) -> Visibility:
    options: list[Visibility] = ["private", "internal", "public"]
    allowed = [v for v in options if _VISIBILITY_ORDER[v] <= _VISIBILITY_ORDER[ceiling]]
    chosen: Visibility = rng.choices(allowed, weights[: len(allowed)])[0]
    return chosen


def _make_groups(b: _Builder, count: int) -> None:
    rng = b.rng
    top_level = max(1, count // 5)
    depth: dict[int, int] = {}
    for group_id in range(1, count + 1):
        parent: Group | None = None
        if group_id > top_level:
            # Prefer shallow parents, up to five levels deep.
            candidates = [g for g in b.world.groups[-200:] if depth[g.id] < 4]
            parent = rng.choice(candidates) if candidates else None
        ceiling: Visibility = parent.visibility if parent else "public"
        word = rng.choice(WORDS)
        group = Group(
            id=group_id,
            path=f"{word}-{group_id}",
            name=f"{word.title()} {group_id}",
            parent_id=parent.id if parent else None,
            # A group is never more visible than its parent (GitLab refuses it).
            visibility=_at_most(rng, ceiling, (30, 30, 40)),
            description=f"Team working on {word} products.",
        )
        depth[group_id] = depth[parent.id] + 1 if parent else 0
        b.world.groups.append(group)
    b.world.changed()


# --------------------------------------------------------------------- projects


def _front_matter(
    rng: random.Random, title: str, topics: list[str], license_key: str | None
) -> tuple[list[str], list[str]]:
    """The README's front matter lines, and, apart, its MLM block: the files, drawn after
    this, decide whether the project has a model file for the block to describe."""
    west = round(rng.uniform(-170, 160), 3)
    south = round(rng.uniform(-60, 50), 3)
    lines = [
        f"title: {title}",
        f"keywords: [{', '.join(topics)}]",
    ]
    if license_key:
        lines.append(f"license: {license_key.upper()}")
    if rng.random() < 0.7:
        lines += [
            "extent:",
            f"  spatial: [{west}, {south}, {round(west + rng.uniform(0.5, 10), 3)}, "
            f"{round(south + rng.uniform(0.5, 10), 3)}]",
            f"  temporal: ['20{rng.randint(15, 22)}-01-01T00:00:00Z', "
            f"'20{rng.randint(23, 25)}-12-31T23:59:59Z']",
        ]
    if "sharinghub:dataset" in topics:
        # Derived from the title, not drawn from rng, so the rest of a seed's world is unchanged.
        lines += [
            f"gsd: {(10, 20, 30, 60)[len(title) % 4]}",
            f"platform: {('sentinel-1a', 'sentinel-2b', 'landsat-8')[len(title) % 3]}",
        ]
    model: list[str] = []
    if "sharinghub:aimodel" in topics:
        framework = rng.choice(["pytorch", "onnx", "tensorflow", "scikit-learn"])
        task = rng.choice(MODEL_TASKS)
    if "sharinghub:aimodel" in topics and len(set(topics) & set(CATEGORY_TOPICS)) == 1:
        # Only on a model's own item: MLM needs a model asset, which only that category
        # makes. MLM requires inputs and outputs; tests do not read their shapes.
        model = [
            "mlm:",
            f"  name: {title}",
            f"  architecture: {('U-Net', 'ResNet-50', 'Random Forest')[len(title) % 3]}",
            f"  framework: {framework}",
            f"  tasks: [{task}]",
            f"  total_parameters: {(len(title) % 7 + 1) * 1_000_000}",
            f"  pretrained: {'true' if len(title) % 2 else 'false'}",
            "  input:",
            "    - {name: bands, bands: [], input: {shape: [-1, 3, 256, 256], "
            "dim_order: [batch, channel, height, width], data_type: float32}}",
            "  output:",
            f"    - {{name: result, tasks: [{task}], result: {{shape: [-1, 1], "
            "dim_order: [batch, class], data_type: float32}}",
        ]
    if rng.random() < 0.2:
        # Front matter users write in the wild: nested and oddly typed.
        lines += ["custom:", f"  run: {rng.randint(1, 99)}", "  tags: {a: 1, b: [x, y]}"]
    return lines, model


def _lfs_pointer(rng: random.Random, size: int) -> str:
    oid = "".join(rng.choices("0123456789abcdef", k=64))
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def _files(
    rng: random.Random, title: str, description: str, topics: list[str], license_key: str | None
) -> dict[str, RepoFile]:
    front_matter, model = _front_matter(rng, title, topics, license_key)
    files: dict[str, RepoFile] = {}
    if rng.random() < 0.8:
        files["requirements.txt"] = RepoFile("requirements.txt", "numpy\nrasterio\n")
    for index in range(rng.randint(0, 4)):
        ext = rng.choice([".tif", ".onnx", ".pt", ".csv", ".json"])
        path = (
            f"{rng.choice(['data', 'models', 'samples/train', 'samples/test'])}/part-{index}{ext}"
        )
        if ext in (".tif", ".onnx", ".pt"):
            size = rng.randint(10_000, 50_000_000)
            files[path] = RepoFile(
                path, _lfs_pointer(rng, size), lfs_content=f"binary {ext} x{size}"
            )
        else:
            files[path] = RepoFile(path, "a,b\n1,2\n" if ext == ".csv" else '{"k": 1}\n')
    if any(path.endswith((".onnx", ".pt")) for path in files):
        front_matter += model  # MLM describes a model file: without one it is invalid
    readme = (
        "\n".join(["---", *front_matter, "---"]) + f"\n\n# {title}\n\n{description}\n\n"
        "## Usage\n\n```bash\npip install -r requirements.txt\n```\n"
    )
    return {"README.md": RepoFile("README.md", readme), **files}


def _make_projects(b: _Builder, count: int) -> None:
    rng = b.rng
    world = b.world
    active_users = [u for u in world.users if u.state == "active" and not u.bot]
    for project_id in range(1, count + 1):
        personal = rng.random() < 0.08 and active_users
        if personal:
            owner = rng.choice(active_users)
            namespace_kind, namespace_id, ceiling = "user", owner.id, "public"
        else:
            group = rng.choice(world.groups)
            namespace_kind, namespace_id, ceiling = "group", group.id, group.visibility
        topics: list[str] = []
        roll = rng.random()
        if roll < 0.75:
            topics.append(rng.choice(CATEGORY_TOPICS))
            if roll < 0.1:
                topics.append(rng.choice([t for t in CATEGORY_TOPICS if t != topics[0]]))
        topics += rng.sample(OTHER_TOPICS, rng.randint(0, 3))
        word, kind = rng.choice(WORDS), rng.choice(KINDS)
        title = f"{word.title()} {kind} {project_id}"
        description = f"A {word} {kind} built by the team for Earth observation."
        license_key = rng.choice(LICENSES)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        created = f"20{rng.randint(19, 25)}-{month:02d}-{day:02d}T10:00:00.000Z"
        project = Project(
            id=project_id,
            path=f"{word}-{kind}-{project_id}",
            name=title,
            namespace_kind=namespace_kind,  # type: ignore[arg-type]
            namespace_id=namespace_id,
            visibility=_at_most(rng, ceiling, (35, 25, 40)),  # type: ignore[arg-type]
            repository_access_level=rng.choices(["enabled", "private", "disabled"], [88, 9, 3])[0],  # type: ignore[arg-type]
            topics=topics,
            description=description,
            created_at=created,
            last_activity_at=f"2026-{rng.randint(1, 5):02d}-{rng.randint(1, 28):02d}T12:00:00.000Z",
            archived=rng.random() < 0.05,
            license_key=license_key,
            star_count=int(rng.paretovariate(1.5)) - 1,
            creator_id=namespace_id if namespace_kind == "user" else None,
        )
        if rng.random() > 0.03:  # a few empty repositories
            project.files = _files(rng, title, description, topics, license_key)
        if project.files and rng.random() < 0.3:
            for index in range(rng.randint(1, 3)):
                tag = f"v1.{index}.0"
                project.releases.append(
                    Release(
                        tag_name=tag,
                        name=f"{title} {tag}",
                        description=f"Release {tag}",
                        created_at=f"2025-0{index + 1}-10T09:00:00.000Z",
                        released_at=f"2025-0{index + 1}-10T09:00:00.000Z",
                        links=[
                            ReleaseLink(
                                id=project_id * 10 + index,
                                name=f"weights-{tag}.onnx",
                                url=f"https://downloads.example.com/{project_id}/{tag}.onnx",
                                link_type="package",
                            )
                        ],
                    )
                )
        world.projects.append(project)
        if namespace_kind == "user":
            # GitLab makes the creator of a personal project its Owner member.
            world.memberships.append(Membership(namespace_id, "project", project_id, OWNER))
    world.changed()


# ------------------------------------------------------------------ memberships


def _make_memberships(b: _Builder) -> None:
    rng, world = b.rng, b.world
    for user in world.users:
        if user.is_admin and rng.random() < 0.5:
            continue  # admins often belong nowhere
        for _ in range(rng.choices([0, 1, 2, 3, 6], [10, 35, 30, 15, 10])[0]):
            group = rng.choice(world.groups)
            level = b.pick_level()
            if group.parent_id is None and rng.random() < 0.05:
                level = MINIMAL_ACCESS  # Minimal Access exists on top-level groups only
            expires = None
            if rng.random() < 0.1:
                expires = rng.choice([PAST, FUTURE])
            b.member(user, "group", group.id, level, expires)
        for _ in range(rng.choices([0, 1, 2], [60, 30, 10])[0]):
            project = rng.choice(world.projects)
            b.member(
                user, "project", project.id, b.pick_level(), PAST if rng.random() < 0.05 else None
            )
    world.changed()


def _make_shares(b: _Builder) -> None:
    rng, world = b.rng, b.world
    if len(world.groups) < 2:
        return
    for project in world.projects:
        if project.namespace_kind == "group" and rng.random() < 0.06:
            group = rng.choice(world.groups)
            if group.id != project.namespace_id:
                world.project_shares.append(
                    ProjectShare(
                        project.id, group.id, b.pick_level(), PAST if rng.random() < 0.05 else None
                    )
                )
    for group in world.groups:
        if rng.random() < 0.04:
            other = rng.choice(world.groups)
            if other.id != group.id and other.id not in world.ancestor_ids(group.id):
                world.group_shares.append(GroupShare(group.id, other.id, b.pick_level()))
    world.changed()


# ------------------------------------------------------------------ tricky cases


def _guarantee_tricky_cases(b: _Builder, minimum: int) -> None:
    """Make each tricky case appear at least ``minimum`` times, by adding memberships and
    shares built for it (on random projects, so they also mix with everything else)."""
    world, rng = b.world, b.rng
    users = [u for u in world.users if u.state == "active" and not u.is_admin and not u.bot]
    externals = [u for u in users if u.external] or users[:1]
    nested = [g for g in world.groups if g.parent_id is not None]
    group_projects = [p for p in world.projects if p.namespace_kind == "group"]
    if not users or not group_projects:
        return

    def repeat(action: Callable[[], bool | None]) -> None:
        # An action returns False when the random pick did not fit; it is tried again.
        done = attempts = 0
        while done < minimum and attempts < 20 * minimum:
            attempts += 1
            if action() is not False:
                done += 1

    def inherited_membership() -> None:
        # A member of an ancestor group reads a private project in a subgroup.
        project = rng.choice(group_projects)
        ancestors = world.project_ancestor_group_ids(project)
        b.member(rng.choice(users), "group", ancestors[0], rng.choice([REPORTER, DEVELOPER]))

    def share_through_invited_ancestor() -> bool:
        # A project shared with a subgroup: members of the subgroup's parent get access.
        if not nested:
            return False
        invited = rng.choice(nested)
        project = rng.choice(group_projects)
        world.project_shares.append(ProjectShare(project.id, invited.id, DEVELOPER))
        b.member(rng.choice(users), "group", invited.parent_id or invited.id, MAINTAINER)
        return True

    def share_capped() -> None:
        # A Maintainer of the invited group gets only the share's Guest level.
        invited = rng.choice(world.groups)
        project = rng.choice(group_projects)
        project.visibility = "private"
        world.project_shares.append(ProjectShare(project.id, invited.id, GUEST))
        b.member(rng.choice(users), "group", invited.id, MAINTAINER)

    def group_share() -> bool:
        if len(world.groups) < 2:
            return False
        shared, invited = rng.sample(world.groups, 2)
        if invited.id in world.ancestor_ids(shared.id):
            return False
        world.group_shares.append(GroupShare(shared.id, invited.id, rng.choice([GUEST, REPORTER])))
        b.member(rng.choice(users), "group", invited.id, DEVELOPER)
        return True

    def expired_membership() -> None:
        project = rng.choice(group_projects)
        b.member(rng.choice(users), "project", project.id, DEVELOPER, PAST)

    def external_user_member() -> None:
        project = rng.choice(group_projects)
        b.member(rng.choice(externals), "project", project.id, rng.choice([GUEST, REPORTER]))

    def members_only_repository() -> bool:
        # A Guest of a public or internal project reads a members-only repository.
        candidates = [
            p for p in group_projects if world.group_by_id[p.namespace_id].visibility != "private"
        ]
        if not candidates:
            return False
        project = rng.choice(candidates)
        project.visibility = world.group_by_id[project.namespace_id].visibility
        project.repository_access_level = "private"
        b.member(rng.choice(users), "project", project.id, GUEST)
        return True

    def planner_member() -> None:
        b.member(rng.choice(users), "group", rng.choice(world.groups).id, PLANNER)

    def minimal_access_member() -> None:
        top = [g for g in world.groups if g.parent_id is None]
        b.member(rng.choice(users), "group", rng.choice(top).id, MINIMAL_ACCESS)

    def personal_project_share() -> bool:
        # A private personal project shared with a group: the group's members read it.
        personal = [p for p in world.projects if p.namespace_kind == "user"]
        if not personal:
            return False
        project = rng.choice(personal)
        project.visibility = "private"
        invited = rng.choice(world.groups)
        world.project_shares.append(ProjectShare(project.id, invited.id, REPORTER))
        b.member(rng.choice(users), "group", invited.id, DEVELOPER)
        return True

    world.changed()
    for action in (
        inherited_membership,
        share_through_invited_ancestor,
        share_capped,
        group_share,
        expired_membership,
        external_user_member,
        members_only_repository,
        planner_member,
        minimal_access_member,
        personal_project_share,
    ):
        repeat(action)
        world.changed()


def tricky_case_counts(world: World) -> dict[str, int]:
    """How often each of ``TRICKY_CASES`` occurs in a world."""
    live = [m for m in world.memberships if not world.expired(m.expires_at)]
    group_members: dict[int, list[Membership]] = {}
    for membership in live:
        if membership.source_type == "group":
            group_members.setdefault(membership.source_id, []).append(membership)
    groups_with_deeper_projects = {
        ancestor
        for project in world.projects
        for ancestor in world.project_ancestor_group_ids(project)[:-1]
    }
    externals = {u.id for u in world.users if u.external}

    def capped(share_group: int, cap: int) -> bool:
        return any(m.access_level > cap for m in group_members.get(share_group, []))

    return {
        "inherited_membership": sum(
            len(group_members.get(g, [])) for g in groups_with_deeper_projects
        ),
        "share_through_invited_ancestor": sum(
            1
            for share in world.project_shares
            if any(group_members.get(a) for a in world.ancestor_ids(share.group_id)[:-1])
        ),
        "share_capped": sum(1 for s in world.project_shares if capped(s.group_id, s.group_access))
        + sum(1 for s in world.group_shares if capped(s.shared_with_group_id, s.group_access)),
        "group_share": sum(
            1 for s in world.group_shares if group_members.get(s.shared_with_group_id)
        ),
        "expired_membership": sum(1 for m in world.memberships if world.expired(m.expires_at)),
        "external_user_member": sum(1 for m in live if m.user_id in externals),
        "members_only_repository_in_public_project": sum(
            1
            for p in world.projects
            if p.visibility != "private" and p.repository_access_level == "private"
        ),
        "planner_member": sum(1 for m in live if m.access_level == PLANNER),
        "minimal_access_member": sum(1 for m in live if m.access_level == MINIMAL_ACCESS),
        "personal_project_share": sum(
            1
            for s in world.project_shares
            if world.project_by_id[s.project_id].namespace_kind == "user"
            and group_members.get(s.group_id)
        ),
    }
