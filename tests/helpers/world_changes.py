"""Seeded changes to a simulated GitLab world, of the kinds GitLab announces with a hook:
the chaos and cluster tests drive the pipeline with them."""

from __future__ import annotations

import random

from gitlab_sim.changes import ChangeError
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import DEVELOPER, REPORTER, World


class Changer:
    """Seeded changes of the kinds GitLab announces with a hook."""

    def __init__(self, sim: SimulatorServer, rng: random.Random) -> None:
        self.sim, self.rng = sim, rng
        self.world: World = sim.world
        self.created = 0

    def catalogued(self) -> list[int]:
        return [p.id for p in self.world.projects
                if any(t.startswith("sharinghub:") for t in p.topics)
                and p.repository_access_level != "disabled" and not p.archived]  # fmt: skip

    def one(self, n: int) -> None:
        changes, rng, world = self.sim.changes, self.rng, self.world
        projects = self.catalogued()
        project = world.project_by_id[rng.choice(projects)]
        kind = rng.choices(
            ["push", "push", "push", "topics", "rename", "visibility", "member", "create",
             "delete", "transfer"],
        )[0]  # fmt: skip
        try:
            if kind == "push":
                changes.push_files(project.id, 1, {"README.md": f"---\ntitle: chaos {n}\n---\n"})
            elif kind == "topics":
                topics = rng.sample(["sharinghub:dataset", "sharinghub:aimodel",
                                     "sharinghub:tools", "flood"], 2)  # fmt: skip
                changes.set_topics(project.id, [*topics, "sharinghub:processor"][:3])
            elif kind == "rename":
                changes.rename_project(project.id, f"{project.path}-{n}")
            elif kind == "visibility":
                changes.set_project_visibility(project.id, rng.choice(["private", "internal"]))
            elif kind == "member":
                user = rng.choice([u for u in world.users if u.state == "active"])
                changes.add_member("project", project.id, user.id,
                                   rng.choice([REPORTER, DEVELOPER]))  # fmt: skip
            elif kind == "create":
                group = rng.choice([g for g in world.groups if g.visibility != "public"])
                self.created += 1
                changes.create_project(f"chaos-{n}", f"Chaos {n}", group_id=group.id,
                                       visibility="private",
                                       topics=["sharinghub:dataset"])  # fmt: skip
            elif kind == "delete" and len(projects) > 20:
                changes.delete_project(project.id)
            elif kind == "transfer":
                group = rng.choice([g for g in world.groups
                                    if g.id != project.namespace_id])  # fmt: skip
                changes.transfer_project(project.id, group_id=group.id)
        except ChangeError:
            pass  # a change GitLab would refuse (taken path, visibility above the group's)
