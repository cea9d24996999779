"""Reading the runner's INPUT_* variables, and what a mistake in them produces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_results import rejected
from runner_commands import parse, read_lines
from runner_files import read_github_output

from ci_trainer import action, settings
from ci_trainer.audit import verify_file
from ci_trainer.decision import Decision
from ci_trainer.errors import ConfigError
from ci_trainer.result import Mode


def test_hyphenated_name_as_the_runner_passes_it() -> None:
    env = {"INPUT_CLIENT-SECRET": "  s3cret  ", "INPUT_CLIENT_SECRET": "other"}
    assert settings.read_input(env, "client-secret") == "s3cret"


def test_underscore_fallback() -> None:
    assert settings.read_input({"INPUT_CLIENT_SECRET": "s3cret"}, "client-secret") == "s3cret"


def test_unset_or_blank_input_gives_the_action_yml_default() -> None:
    assert settings.read_input({}, "config") == "training-config.yaml"
    assert settings.read_input({"INPUT_MODE": "  "}, "mode") == "train"


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("FALSE", False), (" True ", True)]
)
def test_booleans_accept_only_true_or_false(value: str, expected: bool) -> None:
    assert settings.parse_bool("fail-on-reject", value) is expected


@pytest.mark.parametrize("value", ["yes", "1", "on", "ture", ""])
def test_other_booleans_are_an_error_naming_the_input(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.parse_bool("fail-on-reject", value)
    issue = caught.value.issues[0]
    assert issue.field == "fail-on-reject"
    assert issue.message == f"must be true or false, got {value!r}"


def test_mode_is_checked() -> None:
    assert settings.parse_mode_input("Promote") is Mode.PROMOTE
    with pytest.raises(ConfigError, match="must be one of validate, train, promote, got 'deploy'"):
        settings.parse_mode_input("deploy")


def test_all_input_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        settings.parse_inputs({"INPUT_MODE": "ship", "INPUT_FAIL-ON-REJECT": "nope"})
    assert [issue.field for issue in caught.value.issues] == ["mode", "fail-on-reject"]


def test_inputs_override_the_environment_and_blank_inputs_do_not() -> None:
    env = {
        "COGNIGY_TENANT": "from-env",
        "COGNIGY_CLIENT_ID": "env-id",
        "INPUT_TENANT": "from-input",
        "INPUT_CLIENT-ID": "",
        "INPUT_BASE-URL": "http://127.0.0.1:9/api/v1",
        "INPUT_WEBHOOK_SECRET": "hook-secret",
    }
    merged = settings.run_environment(env)
    assert merged["COGNIGY_TENANT"] == "from-input"
    assert merged["COGNIGY_CLIENT_ID"] == "env-id"
    assert merged["COGNIGY_BASE_URL"] == "http://127.0.0.1:9/api/v1"
    assert merged["WEBHOOK_SECRET"] == "hook-secret"


def test_fail_on_reject_false_turns_a_rejection_into_success() -> None:
    result = rejected()
    assert action.exit_code(result, fail_on_reject=True) == 1
    assert action.exit_code(result, fail_on_reject=False) == 0
    failed = result.model_copy(update={"decision": Decision.FAILED})
    assert action.exit_code(failed, fail_on_reject=False) == 3


def runner_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    files = tmp_path / "file_commands"
    files.mkdir()
    (files / "out").touch()
    (files / "summary").touch()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(files / "out"),
        "GITHUB_STEP_SUMMARY": str(files / "summary"),
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    }
    for name, value in inputs.items():
        env[f"INPUT_{name.upper().replace('_', '-')}"] = value
    return env


def test_bad_inputs_end_invalid_with_outputs_summary_and_masks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    env = runner_env(
        tmp_path,
        fail_on_reject="yes",
        client_secret="very-secret-value",
        webhook_secret="hook-key-1",
    )
    code = action.main(env)
    assert code == 2
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[:2] == ["::add-mask::very-secret-value", "::add-mask::hook-key-1"]
    assert any(
        line.startswith("::error title=input fail-on-reject::") and "got 'yes'" in line
        for line in stdout
    )
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["decision"] == "invalid"
    assert outputs["promoted"] == "false"
    assert outputs["reason"] == (
        "1 problem in the action's inputs: "
        "fail-on-reject: must be true or false, got 'yes' (write true or false)"
    )
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.startswith("## ⚠️ Invalid")
    assert "very-secret-value" not in summary + json.dumps(outputs)
    # Nothing is lost: the run is audited where its record would have gone (no config
    # here, so the default name beside the config path).
    record = early_audit_record(tmp_path / outputs["audit-log"])
    assert outputs["audit-log"] == "cognigy_training_audit.log"
    assert record["decision"] == "invalid"
    assert "must be true or false" in record["reason"]
    assert "very-secret-value" not in (tmp_path / outputs["audit-log"]).read_text("utf-8")


def early_audit_record(path: Path) -> dict[str, object]:
    """The one record of an audit log, after checking its chain and schema."""
    report = verify_file(path)
    assert report.ok, report
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record: dict[str, object] = json.loads(lines[0])
    return record


def test_bad_inputs_are_audited_where_the_config_puts_its_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models" / "shop"
    (models / "datasets").mkdir(parents=True)
    (models / "datasets" / "a.yaml").write_text("a: [one, two]\n", encoding="utf-8")
    (models / "training-config.yaml").write_text(
        "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: a, path: datasets/a.yaml}\n"
        "audit:\n  path: governance/audit.log\n  governance_tags: [team-shop]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    env = runner_env(tmp_path, working_directory="models/shop", mode="deploy")
    assert action.main(env) == 2
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["audit-log"] == "models/shop/governance/audit.log"
    record = early_audit_record(tmp_path / outputs["audit-log"])
    assert record["decision"] == "invalid"
    assert record["governanceTags"] == ["team-shop"]


def test_missing_working_directory_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    env = runner_env(tmp_path, working_directory="models/nope")
    assert action.main(env) == 2
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["decision"] == "invalid"
    assert "cannot change to 'models/nope'" in outputs["reason"]
    assert "::error title=input working-directory::" in capsys.readouterr().out
    # the directory does not exist (and is not created): the record goes to the workspace
    assert outputs["audit-log"] == "cognigy_training_audit.log"
    assert not (tmp_path / "models").exists()
    assert early_audit_record(tmp_path / outputs["audit-log"])["decision"] == "invalid"


def test_a_crash_in_the_pipeline_is_reported_as_failed_not_a_traceback_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci_trainer.pipeline.flow import Pipeline

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    write_minimal_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Pipeline, "run", explode)
    env = runner_env(tmp_path)
    assert action.main(env) == 3
    captured = capsys.readouterr()
    assert "RuntimeError: boom" in captured.out  # our bug: the traceback is logged
    assert "internal error RuntimeError: boom (this is a ci-trainer bug;" in captured.out
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["decision"] == "failed"
    assert early_audit_record(tmp_path / outputs["audit-log"])["decision"] == "failed"


def test_a_crash_in_the_lifecycle_itself_is_still_published_and_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ci_trainer.run

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    write_minimal_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ci_trainer.run._Run, "_run_pipeline", explode)
    env = runner_env(tmp_path)
    assert action.main(env) == 3
    captured = capsys.readouterr()
    assert "RuntimeError: boom" in captured.err  # the traceback is kept
    assert "::error::ci-trainer crashed (RuntimeError: boom); please report it" in captured.out
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["decision"] == "failed"
    assert early_audit_record(tmp_path / outputs["audit-log"])["decision"] == "failed"


def write_minimal_project(root: Path) -> None:
    """A config that loads, with one small dataset."""
    (root / "a.yaml").write_text("a: [one, two]\nb: [three, four]\n", encoding="utf-8")
    (root / "training-config.yaml").write_text(
        "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: a, path: a.yaml}\n", encoding="utf-8"
    )


def test_every_input_reaches_the_settings_the_run_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each input of action.yml changes what `run.execute` is given."""
    import ci_trainer.run
    from ci_trainer.settings import Settings

    seen: list[Settings] = []

    def fake_execute(run_settings: Settings, reporter: object, **_kwargs: object) -> object:
        seen.append(run_settings)
        return rejected()

    monkeypatch.setattr(ci_trainer.run, "execute", fake_execute)
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    env = runner_env(
        tmp_path,
        config="nlu/config.yaml",
        mode="promote",
        tenant="acme",
        base_url="https://nlu.acme.example/api/v1",
        client_id="id-1",
        client_secret="secret-1",
        model_id="model-9",
        webhook_url="https://registry.acme.example/hook",
        webhook_secret="hook-1",
        audit_log="logs/audit.jsonl",
        fail_on_reject="false",
        working_directory="models",
    )
    assert action.main(env) == 0  # rejected, but fail-on-reject is false
    given = seen[0]
    assert Path.cwd() == tmp_path / "models"
    assert given.config_path == Path("nlu/config.yaml")
    assert given.mode is Mode.PROMOTE
    assert (given.tenant, given.base_url) == ("acme", "https://nlu.acme.example/api/v1")
    assert (given.client_id, given.client_secret) == ("id-1", "secret-1")
    assert given.model_id == "model-9"
    assert given.env["WEBHOOK_URL"] == "https://registry.acme.example/hook"
    assert given.env["WEBHOOK_SECRET"] == "hook-1"
    assert given.audit_log == Path("logs/audit.jsonl")
    assert given.provenance.commit == "0123456789abcdef0123456789abcdef01234567"
    out = capsys.readouterr().out
    assert "::add-mask::secret-1" in out and "::add-mask::hook-1" in out


def test_the_action_resolves_its_settings_and_secrets_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One Settings and one list of secrets per run, whichever way the run ends."""
    from ci_trainer.settings import Settings

    built: list[Settings] = []
    from_env = Settings.from_env.__func__  # type: ignore[attr-defined]

    def counting_from_env(cls: type[Settings], *args: object, **kwargs: object) -> Settings:
        built.append(from_env(cls, *args, **kwargs))
        return built[-1]

    secrets: list[list[str]] = []
    secret_values = action.secret_values

    def counting_secret_values(env: dict[str, str]) -> list[str]:
        secrets.append(secret_values(env))
        return secrets[-1]

    monkeypatch.setattr(Settings, "from_env", classmethod(counting_from_env))
    monkeypatch.setattr(action, "secret_values", counting_secret_values)
    write_minimal_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    env = runner_env(tmp_path, mode="bogus", client_secret="very-secret-value")
    assert action.main(env) == 2
    assert len(built) == 1
    assert secrets == [["very-secret-value"]]


def test_an_audit_log_input_outside_the_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, outside = tmp_path / "workspace", tmp_path / "etc" / "audit.log"
    workspace.mkdir()
    write_minimal_project(workspace)
    monkeypatch.chdir(workspace)
    env = runner_env(workspace, audit_log=str(outside))
    assert action.main(env) == 2
    out = capsys.readouterr().out
    assert f"::error title=input audit-log::audit-log: '{outside}' resolves to {outside}, " in out
    assert "give a path inside the workspace or under RUNNER_TEMP" in out
    assert not outside.parent.exists()
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["audit-log"] == "cognigy_training_audit.log"  # the config's, in the workspace
    assert early_audit_record(workspace / outputs["audit-log"])["decision"] == "invalid"


def test_an_audit_log_input_under_runner_temp_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    temp.mkdir()
    write_minimal_project(workspace)
    monkeypatch.chdir(workspace)
    env = {**runner_env(workspace, audit_log=str(temp / "audit.log")), "RUNNER_TEMP": str(temp)}
    assert action.main(env) == 1  # the tiny dataset fails a check: a run all the same
    assert early_audit_record(temp / "audit.log")["decision"] == "rejected"


def test_a_working_directory_above_the_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "a" / "workspace"
    workspace.mkdir(parents=True)
    write_minimal_project(workspace)
    monkeypatch.chdir(workspace)
    env = runner_env(workspace, working_directory="../..")
    assert action.main(env) == 2
    assert Path.cwd() == workspace  # never entered
    out = capsys.readouterr().out
    assert (
        f"::error title=input working-directory::working-directory: '../..' resolves to {tmp_path}"
        in out
    )
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert early_audit_record(workspace / outputs["audit-log"])["decision"] == "invalid"


def test_the_crash_traceback_forges_no_command_and_prints_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 7: the one traceback the action prints (our own bug's) is shown
    with its lines neutralised and its secrets masked, as every other line."""
    import ci_trainer.run

    secret = "crash-secret-4d9e1f70"

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"boom\n::set-output name=decision::promoted\n##[error]x {secret}")

    write_minimal_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ci_trainer.run._Run, "_run_pipeline", explode)
    env = runner_env(tmp_path) | {"INPUT_CLIENT-SECRET": secret}
    assert action.main(env) == 3
    captured = capsys.readouterr()
    assert "Traceback (most recent call last)" in captured.err  # the traceback is kept
    forged = [
        line
        for line in read_lines(captured.err)
        if ("set-output" in line and parse(line) is not None) or "##[" in line
    ]
    assert forged == []
    assert secret not in captured.err


def test_the_junit_input_writes_the_report_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from junit_schema import outcomes, valid_report

    (tmp_path / "models").mkdir()
    write_minimal_project(tmp_path / "models")
    monkeypatch.chdir(tmp_path)
    env = runner_env(tmp_path, working_directory="models", junit="reports/junit.xml")
    assert action.main(env) == 1  # the tiny dataset fails a check
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert outputs["junit"] == "models/reports/junit.xml"  # relative to the workspace
    report = outcomes(valid_report(tmp_path / outputs["junit"]))
    assert report[("run", "decision")] == "failure"
    assert "failure" in {ended for (part, _), ended in report.items() if part == "datasets"}


def test_a_junit_input_outside_the_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, outside = tmp_path / "workspace", tmp_path / "etc" / "junit.xml"
    workspace.mkdir()
    write_minimal_project(workspace)
    monkeypatch.chdir(workspace)
    env = runner_env(workspace, junit=str(outside))
    assert action.main(env) == 2
    out = capsys.readouterr().out
    assert f"::error title=input junit::junit: '{outside}' resolves to {outside}, " in out
    assert not outside.parent.exists()
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert (outputs["decision"], outputs["junit"]) == ("invalid", "")
