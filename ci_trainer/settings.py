"""Run settings, resolved once from the command line, the action's inputs and the environment.

Env names are fixed by DESIGN.md (the same as the seed tutorial's). The action maps its
inputs onto these names (`run_environment`) before calling `Settings.from_env`, so CLI
and action share one path. What a run derives from its settings and its config - where
the audit record goes, which webhook it calls, which model it trains - is decided here,
once, for every way a run can end.

Paths, decided once:
- dataset, holdout and the config's `audit.path` are relative to the config file's
  directory (and confined to the workspace), like every path inside the config;
- `--audit-log` / the action's `audit-log` input is relative to the current directory,
  like every path on a command line;
- what a run writes outside the config's paths (`--audit-log`, `--output-dir`, the
  `audit-log` input) obeys `checked_paths`: a file is a file, a folder a folder, and on
  Actions both stay in the workspace or RUNNER_TEMP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ci_trainer.base_data import BaseRequest, base_request
from ci_trainer.config.model import AuditSection, WebhookSection
from ci_trainer.errors import ConfigError, ConfigIssue, IncompleteCredentials
from ci_trainer.predictions_file import predictions_path
from ci_trainer.result import Mode, Provenance
from ci_trainer.workspace import on_actions, outside_roots, writable_roots

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig

# Every input of action.yml (tests check the two agree), with its default.
INPUT_DEFAULTS: dict[str, str] = {
    "config": "training-config.yaml",
    "mode": "train",
    "tenant": "",
    "base-url": "",
    "client-id": "",
    "client-secret": "",
    "api-key": "",
    "model-id": "",
    "webhook-url": "",
    "webhook-secret": "",
    "audit-log": "",
    "fail-on-reject": "true",
    "working-directory": ".",
    "junit": "",
    "comment": "false",
    "github-token": "",
}
# Inputs that become the environment names every other part of ci-trainer reads.
INPUT_TO_ENV: dict[str, str] = {
    "tenant": "COGNIGY_TENANT",
    "base-url": "COGNIGY_BASE_URL",
    "client-id": "COGNIGY_CLIENT_ID",
    "client-secret": "COGNIGY_CLIENT_SECRET",
    "api-key": "COGNIGY_API_KEY",
    "model-id": "COGNIGY_MODEL_ID",
    "webhook-url": "WEBHOOK_URL",
    "webhook-secret": "WEBHOOK_SECRET",
}
SECRET_INPUTS = ("client-secret", "api-key", "webhook-secret", "github-token")
SECRET_ENV = ("COGNIGY_CLIENT_SECRET", "COGNIGY_API_KEY", "WEBHOOK_SECRET")
# The `file` of a ConfigIssue about an action input: it points at the step, not a file.
INPUTS_WHERE = "the action's inputs (the step's `with:`)"
INPUTS = "the action's inputs"
COMMAND_LINE = "the command line"


@dataclass(frozen=True)
class Settings:
    config_path: Path
    mode: Mode = Mode.TRAIN
    emulator: bool = False
    # `run --emulator`: where the emulator keeps its state (None: next to the config),
    # and whether to forget it first.
    emulator_state: Path | None = None
    emulator_reset: bool = False
    output_dir: Path | None = None
    audit_log: Path | None = None
    tenant: str | None = None
    base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    model_id: str | None = None
    # Cognigy.AI REST API v2.0 (backend cognigy-v2): COGNIGY_API_KEY.
    api_key: str | None = field(default=None, repr=False)
    provenance: Provenance = field(default_factory=Provenance)
    # What the data diff compares with: `--base REF`, else a pull request's base branch
    # (GITHUB_BASE_REF); None: no diff.
    base: BaseRequest | None = None
    # The whole environment, for names the config chooses (webhook url_env/secret_env).
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        config_path: str | Path = "training-config.yaml",
        mode: Mode | str = Mode.TRAIN,
        emulator: bool = False,
        output_dir: str | Path | None = None,
        audit_log: str | Path | None = None,
        emulator_state: str | Path | None = None,
        emulator_reset: bool = False,
        base: str | None = None,
    ) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            config_path=Path(config_path),
            mode=parse_mode(mode),
            emulator=emulator,
            emulator_state=Path(emulator_state) if emulator_state else None,
            emulator_reset=emulator_reset,
            output_dir=Path(output_dir) if output_dir else None,
            audit_log=Path(audit_log) if audit_log else None,
            tenant=get("COGNIGY_TENANT"),
            base_url=get("COGNIGY_BASE_URL"),
            client_id=get("COGNIGY_CLIENT_ID"),
            client_secret=get("COGNIGY_CLIENT_SECRET"),
            model_id=get("COGNIGY_MODEL_ID"),
            api_key=get("COGNIGY_API_KEY"),
            provenance=provenance_from_env(env),
            base=base_request(base, env),
            env=dict(env),
        )

    def model_id_for(self, loaded: LoadedConfig) -> str:
        """The model a run trains: COGNIGY_MODEL_ID / the model-id input, else the config's."""
        return self.model_id or loaded.config.model.id

    def webhook(self, loaded: LoadedConfig | None) -> tuple[str | None, str | None]:
        """The webhook URL and signing secret, from the env names the config chooses
        (WEBHOOK_URL / WEBHOOK_SECRET by default); None where unset."""
        section = loaded.config.webhook if loaded else WebhookSection()
        url = self.env.get(section.url_env, "").strip() or None
        secret = self.env.get(section.secret_env, "").strip() or None
        return url, secret

    def audit_destination(self, loaded: LoadedConfig | None) -> tuple[Path, str | None]:
        """Where a run's audit record goes: --audit-log / the audit-log input, else the
        config's audit.path, else the default next to the config; and a warning when the
        config's path cannot be used."""
        default = self.config_path.parent / AuditSection().path
        if self.audit_log is not None:
            return self.audit_log, None
        if loaded is None:
            return default, None
        try:
            return loaded.resolve(loaded.config.audit.path), None
        except ConfigError as exc:
            warning = (
                f"audit.path cannot be used ({exc.issues[0].message}); "
                f"writing the default {AuditSection().path} next to the config"
            )
            return default, warning

    def predictions_destination(self, loaded: LoadedConfig | None) -> Path:
        """Where a run's holdout predictions go: beside its audit log, named after it
        (`<audit log stem>.predictions.jsonl`), so they stay in the workspace with it."""
        return predictions_path(self.audit_destination(loaded)[0])

    def artifact_dir(self, loaded: LoadedConfig | None) -> Path:
        """Where a run keeps its other files (a backend's exports): --output-dir, else
        beside the audit log, in the workspace, where a workflow uploads from."""
        if self.output_dir is not None:
            return self.output_dir
        return self.audit_destination(loaded)[0].parent


@dataclass(frozen=True)
class RunPaths:
    """The audit log, output folder and JUnit report a run was given, each None when not
    given or refused; `issues` says why each refused one cannot be used."""

    audit_log: Path | None
    output_dir: Path | None
    issues: list[ConfigIssue]
    junit: Path | None = None


def checked_paths(
    env: Mapping[str, str],
    *,
    audit_log: str | None,
    output_dir: str | None = None,
    where: str = COMMAND_LINE,
    fields: tuple[str, str] = ("--audit-log", "--output-dir"),
    junit: str | None = None,
    junit_field: str = "--junit",
) -> RunPaths:
    """The paths a run writes to, under one rule: an audit log and a JUnit report are
    files and an output folder a folder; on Actions all lie in the workspace or
    RUNNER_TEMP. A refused path is not used (the record goes where the config says, the
    outputs nowhere)."""
    issues: list[ConfigIssue] = []
    usable: list[Path | None] = []
    for value, field_name, kind_problem in (
        (audit_log, fields[0], _audit_log_problem),
        (output_dir, fields[1], _output_dir_problem),
        (junit, junit_field, _junit_problem),
    ):
        path = Path(value) if value else None
        problem = None if path is None else kind_problem(path) or _confinement(path, env)
        if problem is not None:
            issues.append(ConfigIssue(where, None, None, field_name, *problem))
        usable.append(None if problem else path)
    return RunPaths(audit_log=usable[0], output_dir=usable[1], issues=issues, junit=usable[2])


def _audit_log_problem(path: Path) -> tuple[str, str] | None:
    if not path.is_dir():
        return None
    return (
        f"'{path}' is a folder; the audit log is a file",
        f"name a file, e.g. {path / AuditSection().path}",
    )


def _junit_problem(path: Path) -> tuple[str, str] | None:
    if not path.is_dir():
        return None
    return (
        f"'{path}' is a folder; the JUnit report is a file",
        f"name a file, e.g. {path / 'ci-trainer-junit.xml'}",
    )


def _output_dir_problem(path: Path) -> tuple[str, str] | None:
    if not path.exists() or path.is_dir():
        return None
    return (
        f"'{path}' is a file; outputs.json and summary.md go into a folder",
        "name a folder; it is created when missing",
    )


def _confinement(path: Path, env: Mapping[str, str]) -> tuple[str, str] | None:
    """On Actions, a path outside the workspace and RUNNER_TEMP (a pull request can
    change the workflow, so it must not make a run write elsewhere on the runner)."""
    if not on_actions(env):
        return None
    problem = outside_roots(path, writable_roots(env))
    if problem is None:
        return None
    return problem, "give a path inside the workspace or under RUNNER_TEMP"


def parse_mode(value: Mode | str) -> Mode:
    """The run mode; an unknown word is a ValueError that names the allowed ones."""
    try:
        return Mode(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(mode.value for mode in Mode)
        msg = f"mode must be one of {allowed} (got {value!r})"
        raise ValueError(msg) from None


def provenance_from_env(env: Mapping[str, str]) -> Provenance:
    def get(name: str) -> str | None:
        return env.get(name) or None

    return Provenance(
        repository=get("GITHUB_REPOSITORY"),
        commit=get("GITHUB_SHA"),
        ref=get("GITHUB_REF"),
        event=get("GITHUB_EVENT_NAME"),
        actor=get("GITHUB_ACTOR"),
        workflow=get("GITHUB_WORKFLOW"),
        run_id=get("GITHUB_RUN_ID"),
        run_attempt=get("GITHUB_RUN_ATTEMPT"),
        server_url=get("GITHUB_SERVER_URL"),
    )


# --- the action's inputs ---------------------------------------------------------------
#
# Inputs arrive as `INPUT_<NAME>` with the name upper-cased and hyphens kept
# (`client-secret` -> `INPUT_CLIENT-SECRET`); some tools export them with underscores, so
# `INPUT_CLIENT_SECRET` is read as a fallback.


@dataclass(frozen=True)
class ActionInputs:
    config: str
    mode: Mode
    audit_log: str | None
    fail_on_reject: bool
    working_directory: str
    junit: str | None = None
    # The sticky pull request comment (ci_trainer.pr_comment), sent with github-token.
    comment: bool = False
    github_token: str = field(default="", repr=False)


def input_keys(name: str) -> tuple[str, str]:
    """The GitHub runner's name for an input (hyphens kept), then the underscore fallback."""
    return f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"


def read_input(env: Mapping[str, str], name: str) -> str:
    """The input's value as the GitHub runner passes it, stripped; the default when unset."""
    for key in input_keys(name):
        value = env.get(key)
        if value is not None and value.strip():
            return value.strip()
    return INPUT_DEFAULTS[name]


def parse_bool(name: str, value: str) -> bool:
    """Only `true` or `false` (any case): a typo must not silently flip a gate."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise input_error(name, f"must be true or false, got {value!r}", "write true or false")


def parse_mode_input(value: str) -> Mode:
    """The mode input; an unknown word is an input error naming the allowed ones."""
    try:
        return Mode(value.strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in Mode)
        error = input_error(
            "mode", f"must be one of {choices}, got {value!r}", f"use one of {choices}"
        )
        raise error from None


def _with_input(env_name: str) -> str:
    """`COGNIGY_CLIENT_SECRET (action input client-secret)`: both names a user may have
    used for one setting."""
    head, _, rest = env_name.partition(" ")
    inputs = [name for name, env in INPUT_TO_ENV.items() if env == head]
    if not inputs:
        return env_name
    return f"{head} (action input {inputs[0]})" + (f" {rest}" if rest else "")


def incomplete_credentials(given: list[str], missing: list[str]) -> IncompleteCredentials:
    """The error of a run with some credentials but not all (not the fork case)."""
    are = "is" if len(given) == 1 else "are"
    msg = (
        f"{' and '.join(given)} {are} set, but the run also needs "
        f"{'; '.join(_with_input(name) for name in missing)}: nothing was trained"
    )
    return IncompleteCredentials(
        msg,
        hint="check the secret's name in the workflow (a misspelt or missing secret is "
        "passed as an empty value); for pull requests from forks, which get no secrets, pass "
        "every credential from a secret so that such runs are skipped instead",
    )


def input_error(name: str, message: str, hint: str) -> ConfigError:
    """A mistake in one input, reported like a config mistake (decision `invalid`)."""
    return ConfigError(
        [
            ConfigIssue(
                file=INPUTS_WHERE, line=None, column=None, field=name, message=message, hint=hint
            )
        ],
        source=INPUTS,
    )


def default_inputs(env: Mapping[str, str]) -> ActionInputs:
    """The inputs as given, with the defaults for mode and fail-on-reject: what a run
    whose inputs are wrong still uses to find its config and its audit log."""
    return ActionInputs(
        config=read_input(env, "config"),
        mode=Mode.TRAIN,
        audit_log=read_input(env, "audit-log") or None,
        fail_on_reject=True,
        working_directory=read_input(env, "working-directory"),
        junit=read_input(env, "junit") or None,
        github_token=read_input(env, "github-token"),
    )


def parse_inputs(env: Mapping[str, str]) -> ActionInputs:
    """All inputs checked at once, so one run reports every mistake."""
    issues: list[ConfigIssue] = []
    inputs = default_inputs(env)
    mode, fail_on_reject, comment = inputs.mode, inputs.fail_on_reject, inputs.comment
    try:
        mode = parse_mode_input(read_input(env, "mode"))
    except ConfigError as error:
        issues += error.issues
    try:
        fail_on_reject = parse_bool("fail-on-reject", read_input(env, "fail-on-reject"))
    except ConfigError as error:
        issues += error.issues
    try:
        comment = parse_bool("comment", read_input(env, "comment"))
    except ConfigError as error:
        issues += error.issues
    if issues:
        raise ConfigError(issues, source=INPUTS)
    return ActionInputs(
        config=inputs.config,
        mode=mode,
        audit_log=inputs.audit_log,
        fail_on_reject=fail_on_reject,
        working_directory=inputs.working_directory,
        junit=inputs.junit,
        comment=comment,
        github_token=inputs.github_token,
    )


def run_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the run sees: inputs that were given override the same env names."""
    merged = dict(env)
    for name, key in INPUT_TO_ENV.items():
        value = read_input(env, name)
        if value:
            merged[key] = value
    return merged


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The secret inputs' values, and those of the env names they map to."""
    keys = [key for name in SECRET_INPUTS for key in input_keys(name)] + list(SECRET_ENV)
    return [value for key in keys if (value := env.get(key, "").strip())]
