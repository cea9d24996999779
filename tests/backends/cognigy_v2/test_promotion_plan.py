"""A promotion is planned before anything is written (issue 18 item 2): when any
precondition fails, production - the endpoint's entrypoint, the target project's working
copy and the snapshot the endpoint serves - is as it was, and nothing was deleted. Also
a failure after the first writes (a restore that ends in error) leaves the endpoint on
what it served. All against the v2 emulator over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_trainer.backend_types import Promotion, PromotionStep
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

from .conftest import EN, PROJECT, TALK_FLOW, TARGET_PROJECT, make_backend

ENDPOINT = "9e" * 12


@dataclass(frozen=True)
class Production:
    """What the target serves and holds, to compare before and after."""

    entrypoint: str
    content: object  # the working copy (a restore replaces it)
    snapshots: frozenset[str]  # of both projects

    @classmethod
    def read(cls, emu: V2Emulator) -> Production:
        target = emu.service.projects[TARGET_PROJECT]
        return cls(
            entrypoint=target.endpoints[ENDPOINT].entrypoint,
            content=target.content,
            snapshots=frozenset(
                s for p in (PROJECT, TARGET_PROJECT) for s in emu.service.projects[p].snapshots
            ),
        )


def snapshots(emu: V2Emulator, project_id: str, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        task = emu.service.start_snapshot(project_id, name, "")
        assert emu.service.wait_task(task.id).status == "done"
        listed = emu.service.projects[project_id].snapshots.values()
        ids.append(next(s.id for s in listed if s.name == name))
    return ids


@pytest.fixture
def served(emu: V2Emulator) -> str:
    """The target's endpoint serves a snapshot made by hand (its oldest ci-trainer one)."""
    emu.seed_endpoint(TARGET_PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    [snapshot] = snapshots(emu, TARGET_PROJECT, ["ci-trainer-served"])
    emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT].entrypoint = snapshot
    return snapshot


def promote(emu: V2Emulator, intents_dir: Path, **options: object) -> Promotion:
    options.setdefault("target_project_id", TARGET_PROJECT)
    options.setdefault("endpoint_id", ENDPOINT)
    backend = make_backend(
        emu, intents_dir, import_mode=None, snapshot_name="ci-trainer-new", **options
    )
    return backend.promote(backend.targets()[0], "v", "production")


def step(promotion: Promotion, name: str) -> PromotionStep:
    [found] = [s for s in promotion.steps if s.name == name]
    return found


def writes(emu: V2Emulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.app.log.records() if r.method != "GET"]


def assert_untouched(emu: V2Emulator, before: Production, promotion: Promotion) -> None:
    assert not promotion.promoted
    assert Production.read(emu) == before


# ---------------------------------------------------------------------- the plan


def test_an_unreadable_target_project_fails_before_any_write(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    before = Production.read(emu)
    promotion = promote(emu, intents_dir, target_project_id="0f" * 12, endpoint_id=None)
    assert_untouched(emu, before, promotion)
    assert writes(emu) == []
    assert "check target project" not in [s.name for s in promotion.steps if s.status == "done"]
    assert "0f" * 12 in (promotion.steps[-1].detail or "")


def test_a_full_target_fails_before_the_source_is_made_room_in(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    # The source is full too, with a ci-trainer snapshot it could delete: it is kept,
    # since the target (every ci-trainer snapshot there served) has no room to be made.
    snapshots(emu, PROJECT, ["ci-trainer-old", *[f"manual-{i}" for i in range(9)]])
    snapshots(emu, TARGET_PROJECT, [f"manual-{i}" for i in range(9)])
    before = Production.read(emu)
    promotion = promote(emu, intents_dir, delete_oldest_snapshot=True)
    assert_untouched(emu, before, promotion)
    assert writes(emu) == []
    limit = step(promotion, "snapshot limit")
    assert limit.status == "failed" and limit.id == TARGET_PROJECT
    assert "every ci-trainer snapshot is served" in (limit.detail or "")
    assert served in before.snapshots


def test_a_full_source_without_leave_to_delete_fails_before_any_write(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    snapshots(emu, PROJECT, [f"ci-trainer-{i}" for i in range(10)])
    before = Production.read(emu)
    promotion = promote(emu, intents_dir)
    assert_untouched(emu, before, promotion)
    assert writes(emu) == []
    assert step(promotion, "snapshot limit").id == PROJECT
    assert "delete_oldest_snapshot" in (step(promotion, "error").detail or "")
    assert f"serves entrypoint {served}" in (promotion.steps[-1].detail or "")


def test_a_flow_only_the_new_snapshot_could_show_is_not_checked_by_deleting_first(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    legacy = emu.service.add_flow(PROJECT, "Legacy")  # not a configured target's flow
    endpoint = emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT]
    endpoint.flow_id = legacy.reference_id
    snapshots(emu, PROJECT, ["ci-trainer-old", *[f"manual-{i}" for i in range(9)]])
    before = Production.read(emu)
    promotion = promote(emu, intents_dir, delete_oldest_snapshot=True)
    assert_untouched(emu, before, promotion)
    assert writes(emu) == []
    plan = step(promotion, "plan")
    assert plan.status == "failed" and "nothing was deleted" in (plan.detail or "")


def test_a_flow_missing_from_the_source_snapshot_carries_nothing_over(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    legacy = emu.service.add_flow(TARGET_PROJECT, "Legacy")  # the target's own flow
    emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT].flow_id = legacy.reference_id
    before = Production.read(emu)
    promotion = promote(emu, intents_dir)
    assert step(promotion, "check flow in snapshot").status == "failed"
    # Only the source snapshot was made; the target was not written to.
    assert not [w for w in writes(emu) if "upload" in w[1] or "restore" in w[1]]
    assert not [w for w in writes(emu) if w[0] in ("PATCH", "DELETE")]
    after = Production.read(emu)
    assert (after.entrypoint, after.content) == (before.entrypoint, before.content)
    assert before.snapshots <= after.snapshots
    for name in ("package snapshot", "upload to target project", "restore in target project"):
        assert step(promotion, name).status == "not run"
    assert (step(promotion, "verify endpoint").detail or "").startswith("planned, not run")


# ---------------------------------------------------------------------- after the first write


def test_a_failed_restore_leaves_the_served_snapshot_served(
    emu: V2Emulator, intents_dir: Path, served: str
) -> None:
    emu.service.fail_next_task("restoreSnapshot", "restore worker lost")
    before = Production.read(emu)
    promotion = promote(emu, intents_dir)
    assert not promotion.promoted
    # The endpoint serves a snapshot: the restore ran before the re-point, which did not.
    assert step(promotion, "restore in target project").status == "failed"
    assert step(promotion, "re-point endpoint").status == "not run"
    after = Production.read(emu)
    assert after.entrypoint == before.entrypoint == served
    assert served in after.snapshots
    assert f"serves entrypoint {served}" in (promotion.steps[-1].detail or "")
    assert not [w for w in writes(emu) if w[0] == "PATCH"]


def test_when_the_endpoint_serves_the_project_it_moves_before_the_restore(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(TARGET_PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    emu.service.fail_next_task("restoreSnapshot", "restore worker lost")
    promotion = promote(emu, intents_dir)
    assert not promotion.promoted
    names = [s.name for s in promotion.steps]
    assert names.index("re-point endpoint") < names.index("restore in target project")
    uploaded = step(promotion, "find uploaded snapshot").id
    # Production moved to the complete uploaded snapshot, not to a half-restored copy,
    # and the re-point is not undone onto that working copy.
    endpoint = emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT]
    assert endpoint.entrypoint == uploaded
    undo = step(promotion, "undo re-point")
    assert undo.status == "not run" and "partly overwritten" in (undo.detail or "")
    assert step(promotion, "verify endpoint").status == "not run"
