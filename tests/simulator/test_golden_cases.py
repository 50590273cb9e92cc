"""GitLab's permission rules, worked by hand from its documentation (gitlab_sim/golden.py),
checked against the oracle and against what the simulated API actually serves."""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

import httpx
import pytest

from gitlab_sim.golden import GOLDEN_CASES, GoldenCase, decide, golden_world
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import REPOSITORY_READ_SCOPES

RULES = [f"R{n}" for n in range(1, 14) if n != 8]  # R8 (groups) is checked in test_api


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_oracle_answers_as_the_documentation(case: GoldenCase) -> None:
    decision = decide(golden_world(), case)
    assert decision.allowed == case.can_read, f"{case.doc}: {decision.rule}"


def test_every_rule_has_a_golden_case_each_way() -> None:
    allowed = Counter(case.rule for case in GOLDEN_CASES if case.can_read)
    denied = Counter(case.rule for case in GOLDEN_CASES if not case.can_read)
    for rule in RULES:
        assert allowed[rule] + denied[rule] > 0, f"{rule} has no golden case"
    assert denied.total() > 10 and allowed.total() > 10


def test_the_api_serves_exactly_what_the_oracle_allows(golden: SimulatorServer) -> None:
    with httpx.Client(base_url=f"{golden.url}/api/v4") as client:
        for case in GOLDEN_CASES:
            golden.world.admin_mode = case.admin_mode
            headers = {"PRIVATE-TOKEN": case.token} if case.token else {}
            response = client.get(
                f"/projects/{quote(case.project, safe='')}/repository/files/README.md/raw",
                headers=headers,
            )
            token = golden.world.token_by_value.get(case.token or "")
            if token is not None and not set(token.scopes) & REPOSITORY_READ_SCOPES:
                # GitLab refuses the token itself; labstac treats such a caller as anonymous.
                assert response.status_code == 403, case.name
                assert response.json()["error"] == "insufficient_scope"
                continue
            assert (response.status_code == 200) == case.can_read, (
                f"{case.name}: HTTP {response.status_code} {response.text[:200]}"
            )
            if not case.can_read:
                assert response.status_code in (401, 403, 404), case.name
