"""Where each settled point of the contract notes (section 8, C1-C17) is tested, against
the v2 emulator's real-API defaults (issue 13, Must show). The index cannot rot: every
test it names must exist, and every point must have at least one.

A point with its own small check that no other test covers (C16's request budget) is
tested here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ci_trainer.config.cognigy_v2 import CognigyV2Section
from ci_trainer.http.rate_limit import DEFAULT_WINDOW_LIMIT, DEFAULT_WINDOW_SECONDS

HERE = Path(__file__).resolve().parent
FAULTS = HERE.parents[1] / "faults"

# point -> the tests that show it ("file::test", files under tests/backends/cognigy_v2
# unless they start with "faults/").
POINTS: dict[str, list[str]] = {
    "C1 retries": [
        "test_write_retries.py::test_a_502_on_a_write_is_not_repeated_and_says_it_may_have_been_applied",
        "test_write_retries.py::test_a_429_on_a_write_is_repeated_because_nothing_was_processed",
        "test_reconcile_training.py::test_a_502_after_the_training_was_applied_adopts_its_task",
        "test_reconcile_training.py::test_a_502_after_the_import_was_applied_adopts_its_task_and_imports_once",
        "test_unreadable_write.py::test_an_unreadable_202_after_the_training_adopts_its_task_without_a_resend",
        "test_unreadable_write.py::test_an_unreadable_202_with_nothing_listed_fails_and_is_never_sent_again",
        "test_promotion_writes.py::test_a_lost_answer_to_create_snapshot_yields_one_snapshot",
        "test_promotion_writes.py::test_a_lost_answer_to_an_upload_yields_one_uploaded_snapshot",
        "test_promotion_writes.py::test_a_lost_answer_to_the_patch_is_read_back_and_not_sent_again",
        "faults/test_v2_writes.py::test_write_fault",
    ],
    "C2 base URL": [
        "test_base_url.py::test_each_accepted_form_reaches_the_api",
        "test_base_url.py::test_the_openapi_page_is_stripped_with_a_notice",
        "test_base_url.py::test_any_other_path_is_refused_naming_the_input_and_the_forms",
        "test_base_url.py::test_openapi_is_not_a_route_of_the_emulator",
    ],
    "C3 task read": ["test_write_retries.py::test_a_task_is_read_by_id_alone"],
    "C4 delete snapshot": [
        "test_promotion_emulator.py::test_a_delete_is_a_task_and_the_snapshot_stays_until_it_is_done",
        "test_promotion.py::test_the_delete_task_is_done_before_the_snapshot_is_created",
        "test_promotion.py::test_the_delete_task_is_done_before_the_upload",
        "test_promotion.py::test_a_served_snapshot_is_kept_and_the_next_oldest_deleted",
    ],
    "C5 endpoint list": [
        "test_promotion_emulator.py::test_the_endpoint_list_has_no_entrypoint_unless_the_variant_says_so",
        "test_promotion.py::test_a_promotion_is_promoted_only_with_the_entrypoint_read_back",
        "test_promotion.py::test_a_patch_the_service_ignores_is_not_promoted_and_says_what_is_served",
    ],
    "C6 endpoint re-point": [
        "test_promotion.py::test_a_flow_missing_from_the_snapshot_sends_no_patch",
        "test_promotion_emulator.py::test_a_snapshot_lists_its_flows_page_by_page",
    ],
    "C7 upload then find": [
        "test_promotion.py::test_an_upload_that_shows_late_is_found_within_the_bound",
        "test_promotion.py::test_an_upload_that_never_shows_is_a_clear_failure",
    ],
    "C8 OAuth2": [
        "test_credentials.py::test_client_credentials_are_exchanged_for_a_token_the_api_accepts",
        "test_credentials.py::test_the_token_is_renewed_ahead_of_its_expiry",
        "test_credentials.py::test_a_401_mid_run_re_authenticates_once_and_the_call_goes_through",
        "test_credentials.py::test_a_run_with_either_credential_is_approved_and_writes_no_secret",
    ],
    "C9 intents export": [
        "test_intents_export.py::test_every_overwrite_import_follows_the_export_kept_as_a_file",
        "test_intents_export.py::test_the_export_paths_are_in_the_outputs_and_the_audit_record",
        "test_export_backend.py::test_both_answer_shapes_give_the_flows_intents",
    ],
    "C10 import modes": [
        "test_intents_export.py::test_the_gate_names_what_the_import_adds_changes_and_deletes",
        "test_intents_export.py::test_a_failed_export_stops_the_run_before_any_import",
        "test_export_backend.py::test_merge_needs_no_export",
    ],
    "C11 intent threshold": [
        "test_threshold.py::test_a_top_score_below_the_flows_lower_threshold_is_no_intent",
        "test_threshold.py::test_a_run_holds_both_models_to_the_threshold_and_the_summary_says_so",
    ],
    "C12 training state": [
        "test_intents_export.py::test_a_current_training_on_the_committed_file_is_not_repeated",
        "test_intents_export.py::test_a_changed_file_trains_again",
    ],
    "C13 child intents": [
        "test_threshold.py::test_every_intents_list_request_asks_for_child_intents",
        "test_threshold.py::test_child_intents_are_counted_in_the_metrics",
    ],
    "C14 ids": [
        "test_base_url.py::test_a_bad_id_is_refused_at_its_line_naming_the_field",
        "test_base_url.py::test_the_sample_configs_ids_fit_the_pattern",
    ],
    "C15 uploads": [
        "test_promotion_emulator.py::test_snapshot_uploads_may_exceed_the_intent_file_limit"
    ],
    "C16 rate limit": [
        "test_client.py::test_the_request_budget_waits_when_its_window_is_full",
        "test_contract_points.py::test_the_request_budget_stays_under_the_shared_saas_limit",
    ],
    "C17 restore body": [
        "test_emulator.py::test_restore_into_another_project_or_without_one_is_refused",
        "test_run.py::test_main_run_promotes_a_snapshot_into_the_second_project",
    ],
}


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_point_c1_to_c17_has_tests() -> None:
    numbers = sorted(int(point.split()[0][1:]) for point in POINTS)
    assert numbers == list(range(1, 18))
    assert all(POINTS.values())


@pytest.mark.parametrize("point", sorted(POINTS))
def test_the_tests_named_for_a_point_exist(point: str) -> None:
    for ref in POINTS[point]:
        file, name = ref.split("::")
        path = FAULTS / file.removeprefix("faults/") if file.startswith("faults/") else HERE / file
        assert name in _tests_in(path), f"{point}: {ref} does not exist"


def test_the_request_budget_stays_under_the_shared_saas_limit() -> None:
    """C16: 1,000 requests per 5 minutes per source IP. Both the HTTP layer's default and
    the config's stay well under it, and the config cannot be set above it."""
    assert DEFAULT_WINDOW_SECONDS == 300.0
    assert DEFAULT_WINDOW_LIMIT <= 600
    field = CognigyV2Section.model_fields["max_requests_per_window"]
    assert field.default <= 600
    assert any(getattr(m, "le", None) == 1000 for m in field.metadata)
