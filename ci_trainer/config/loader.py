"""`load_config(path)`: the training config file -> `LoadedConfig`, or one `ConfigError`
listing every problem with file, line, column, field and the fix.

Order of work: size and encoding, then YAML (safe loader only, bounded expansion; a
file that is not YAML stops here), then everything else together: the checks that need
the raw data (version, secrets written into the file, the paths it names: inside the
workspace and present) and the typed model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ci_trainer.config.messages import (
    describe,
    field_path_text,
    issue_at,
    issue_from_error,
    short,
)
from ci_trainer.config.model import TrainingConfig
from ci_trainer.config.yamltree import (
    FieldPath,
    NodeMarks,
    Problem,
    Tree,
    YamlRejected,
    read_tree,
)
from ci_trainer.errors import ConfigError, ConfigIssue
from ci_trainer.workspace import OutsideWorkspace, default_workspace, resolve_inside

MAX_CONFIG_BYTES = 1024 * 1024
SUPPORTED_VERSION = 1

# Keys whose literal value would be a credential. Keys ending in `_env` name an
# environment variable instead, which is the supported way.
_SECRET_KEY = re.compile(
    r"^(?:.*[_-])?(secret|password|passwd|token|api[_-]?key|private[_-]?key|credentials?"
    r"|access[_-]?key|auth(?:orization)?)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from."""

    config: TrainingConfig
    path: Path
    sha256: str
    workspace: Path
    marks: Mapping[FieldPath, NodeMarks] = field(default_factory=dict, repr=False)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to this directory."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """Resolve a dataset/holdout/audit path relative to the config file's directory.

        Raises `ConfigError` (at the line of the field holding `relative`) when the path
        leaves the workspace, including through a symlink.
        """
        try:
            return resolve_inside(relative, base=self.base_dir, workspace=self.workspace)
        except OutsideWorkspace as exc:
            where = _path_field_holding(self.config, relative)
            marks = self.marks if where is not None else {}
            raise ConfigError([_outside_issue(str(self.path), marks, where or (), exc)]) from None


def load_config(
    path: str | Path, *, workspace: Path | None = None, check_files: bool = True
) -> LoadedConfig:
    """Read and validate a training config.

    `workspace` (default: the current directory, or the config's own directory when the
    config lies outside it) confines every path the config names. With `check_files`,
    dataset and holdout files must exist. Raises `ConfigError` and nothing else.
    """
    config_path = Path(path)
    name = str(path)
    raw = _read_bytes(config_path, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigIssue(name, line, None, "", "the file is not UTF-8 text", "save it as UTF-8")]
        ) from None
    try:
        root = workspace.resolve() if workspace else default_workspace(config_path)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(
            [ConfigIssue(name, None, None, "", f"cannot resolve the workspace: {exc}")]
        ) from None
    config, marks = parse_config(
        text, name, base_dir=config_path.parent, workspace=root, check_files=check_files
    )
    return LoadedConfig(
        config=config,
        path=config_path,
        sha256=hashlib.sha256(raw).hexdigest(),
        workspace=root,
        marks=marks,
    )


@dataclass(frozen=True)
class _FileCheck:
    base_dir: Path
    workspace: Path
    check_exists: bool


def parse_config(
    text: str,
    name: str = "training-config.yaml",
    *,
    base_dir: Path | None = None,
    workspace: Path | None = None,
    check_files: bool = True,
) -> tuple[TrainingConfig, dict[FieldPath, NodeMarks]]:
    """Validate config text. Paths it names are checked only when `base_dir` and
    `workspace` are given. Raises `ConfigError` and nothing else."""
    tree = _read_tree(text, name)
    issues = [_problem_issue(name, problem) for problem in tree.problems]
    if not isinstance(tree.data, dict):
        raise ConfigError([*issues, _not_a_mapping(name, tree.data)])
    secret_paths = list(_secret_paths(tree.data, ()))
    issues.extend(_secret_issue(name, tree.marks, path) for path in secret_paths)
    version_issues = _version_issues(tree.data, tree.marks, name)
    if version_issues and "version" in tree.data:
        # Another format version: its keys would only produce misleading complaints.
        raise ConfigError(_sorted([*issues, *version_issues]))
    issues.extend(version_issues)
    issues.extend(_duplicate_dataset_ids(tree.data, tree.marks, name))
    if base_dir is not None and workspace is not None:
        files = _FileCheck(base_dir, workspace, check_files)
        issues.extend(_path_issues(tree.data, tree.marks, name, files))
    # A value the YAML step already reported (bad tag, impossible date) reaches the
    # model as null; one message per mistake is enough.
    reported = [problem.path for problem in tree.problems if problem.path]
    skip = [("version",), *secret_paths, *reported]
    config: TrainingConfig | None = None
    try:
        config = TrainingConfig.model_validate(tree.data, strict=True)
    except ValidationError as exc:
        issues.extend(_model_issues(exc, tree.marks, name, skip=skip))
    if config is None or issues:
        # Every skipped model error has its own issue already, so `issues` is not empty.
        raise ConfigError(_sorted(issues) or [ConfigIssue(name, None, None, "", "not valid")])
    return config, tree.marks


def _read_tree(text: str, name: str) -> Tree:
    try:
        return read_tree(text)
    except YamlRejected as rejected:
        raise ConfigError([_problem_issue(name, rejected.problem)]) from None
    except RecursionError:  # pragma: no cover - depth is bounded before composing
        raise ConfigError(
            [ConfigIssue(name, None, None, "", "the YAML is nested too deeply")]
        ) from None


def _printable(path: Path) -> str:
    """A path for a message: control characters (a NUL in a name) shown escaped."""
    text = str(path)
    return text if text.isprintable() else ascii(text)


def _read_bytes(path: Path, name: str) -> bytes:
    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError([ConfigIssue(name, None, None, "", message, hint)])

    try:
        if not path.is_file():
            if path.exists():
                msg = "not a file"
                raise fail(msg, "pass the path of the YAML file itself")
            msg = "config file not found"
            raise fail(
                msg,
                f"looked for {_printable(path.absolute())}: pass --config with the path from "
                "the current directory; the action's `config` input is relative to its "
                "`working-directory`",
            )
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            msg = f"the file is {size} bytes; a config may be at most {MAX_CONFIG_BYTES} bytes"
            raise fail(
                msg,
                "datasets belong in their own files, named by datasets[].path",
            )
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        msg = f"cannot read the file: {exc.strerror or exc}"
        raise fail(msg) from None
    except ValueError as exc:  # e.g. a NUL character in the path
        msg = f"cannot read the file: {exc}"
        raise fail(msg) from None
    if len(raw) > MAX_CONFIG_BYTES:  # grew after stat, or a special file
        msg = f"the file is larger than {MAX_CONFIG_BYTES} bytes"
        raise fail(msg)
    return raw


def _problem_issue(name: str, problem: Problem) -> ConfigIssue:
    return ConfigIssue(
        file=name,
        line=problem.mark.line if problem.mark else None,
        column=problem.mark.column if problem.mark else None,
        field=field_path_text(problem.path),
        message=problem.message,
        hint=problem.hint,
    )


def _not_a_mapping(name: str, data: Any) -> ConfigIssue:
    if data is None:
        return ConfigIssue(
            name,
            1,
            1,
            "",
            "the file is empty",
            "start with `version: 1`, then `model:` and `datasets:`; see docs/configuration.md",
        )
    return ConfigIssue(
        name,
        1,
        1,
        "",
        f"expected a mapping of keys at the top level, got {type(data).__name__}",
        "start with `version: 1`",
    )


def _version_issues(
    data: dict[str, Any], marks: Mapping[FieldPath, NodeMarks], name: str
) -> list[ConfigIssue]:
    if "version" not in data:
        return [
            ConfigIssue(
                name,
                1,
                1,
                "version",
                f"required key `version` is missing; this ci-trainer reads config version "
                f"{SUPPORTED_VERSION}",
                f"add `version: {SUPPORTED_VERSION}` as the first line",
            )
        ]
    value = data["version"]
    # bool is an int in Python, and `version: true` must not pass as 1.
    if type(value) is int and value == SUPPORTED_VERSION:
        return []
    return [
        issue_at(
            name,
            marks,
            ("version",),
            f"unsupported config version {_version_text(value)}; this ci-trainer reads "
            f"version {SUPPORTED_VERSION}",
            f"set `version: {SUPPORTED_VERSION}`; a newer version needs a newer ci-trainer",
        )
    ]


def _duplicate_dataset_ids(
    data: dict[str, Any], marks: Mapping[FieldPath, NodeMarks], name: str
) -> Iterator[ConfigIssue]:
    """Dataset ids key the stats, checks and audit record; each must appear once."""
    datasets = data.get("datasets")
    if not isinstance(datasets, list):
        return
    first: dict[str, int] = {}
    for index, item in enumerate(datasets):
        ident = item.get("id") if isinstance(item, dict) else None
        if not isinstance(ident, str):
            continue
        if ident in first:
            yield issue_at(
                name,
                marks,
                ("datasets", index, "id"),
                f"dataset id `{ident}` is listed twice (first as datasets[{first[ident]}])",
                "list each dataset once",
            )
        else:
            first[ident] = index


def _version_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:20]) + (
            " (text; write the number without quotes)" if value.strip() == "1" else ""
        )
    if isinstance(value, int) and abs(value) > 10**6:
        return "(a very large number)"
    if isinstance(value, (int, float)) or value is None:
        return "null" if value is None else str(value)
    return f"({describe(value)})"


def _secret_paths(data: Any, path: FieldPath) -> Iterator[FieldPath]:
    """Paths of keys that look like credentials and hold a value."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = (*path, key)
            if _looks_secret(child) and _has_value(value):
                yield child
            else:
                yield from _secret_paths(value, child)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _secret_paths(item, (*path, index))


def _looks_secret(path: FieldPath) -> bool:
    key = str(path[-1])
    if key.lower().endswith("_env"):
        return False
    # A webhook URL usually carries its own token (e.g. chat webhooks), so it is kept
    # out of the file like the HMAC secret.
    return bool(_SECRET_KEY.match(key)) or path == ("webhook", "url")


def _has_value(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _secret_issue(name: str, marks: Mapping[FieldPath, NodeMarks], path: FieldPath) -> ConfigIssue:
    if path == ("webhook", "url"):
        where = "the environment variable named by `webhook.url_env`, WEBHOOK_URL by default"
    elif path[0] == "webhook":
        where = "the environment variable named by `webhook.secret_env`, WEBHOOK_SECRET by default"
    else:
        where = "the environment variables COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET"
    # Never repeat the value: it may be a live credential.
    return issue_at(
        name,
        marks,
        path,
        f"`{short(str(path[-1]))}` looks like a secret written into the config; secrets must "
        "not be committed",
        f"remove it, rotate it, and set it in {where}, e.g. from a repository secret",
        prefer_key=True,
    )


def _model_issues(
    exc: ValidationError,
    marks: Mapping[FieldPath, NodeMarks],
    name: str,
    *,
    skip: list[FieldPath],
) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc: FieldPath = tuple(error.get("loc", ()))
        if any(loc[: len(prefix)] == prefix for prefix in skip):
            continue
        issues.append(issue_from_error(error, root=TrainingConfig, marks=marks, file=name))
    return issues


def _sorted(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.column or 0))


def _path_fields(config: TrainingConfig) -> Iterator[tuple[FieldPath, str]]:
    """(field path, value) of every path the typed config names."""
    for index, ref in enumerate(config.datasets):
        if ref.path is not None:
            yield ("datasets", index, "path"), ref.path
    if config.holdout is not None:
        yield ("holdout", "path"), config.holdout.path
    yield ("audit", "path"), config.audit.path


def _path_field_holding(config: TrainingConfig, value: str) -> FieldPath | None:
    return next((path for path, text in _path_fields(config) if text == value), None)


def _raw_path_fields(data: dict[str, Any]) -> Iterator[tuple[FieldPath, str, bool]]:
    """(field path, value, must exist) of every path in the raw data, so path problems
    are reported together with type problems elsewhere in the file."""
    datasets = data.get("datasets")
    if isinstance(datasets, list):
        for index, item in enumerate(datasets):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield ("datasets", index, "path"), item["path"], True
    for section, must_exist in (("holdout", True), ("audit", False)):
        value = data.get(section)
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            yield (section, "path"), value["path"], must_exist


def _path_issues(
    data: dict[str, Any],
    marks: Mapping[FieldPath, NodeMarks],
    name: str,
    files: _FileCheck,
) -> Iterator[ConfigIssue]:
    for path, text, must_exist in _raw_path_fields(data):
        try:
            resolved = resolve_inside(text, base=files.base_dir, workspace=files.workspace)
        except OutsideWorkspace as exc:
            yield _outside_issue(name, marks, path, exc)
            continue
        if files.check_exists and must_exist and not resolved.is_file():
            yield issue_at(
                name,
                marks,
                path,
                f"not a regular file: '{text}' ({resolved})"
                if resolved.exists()
                else f"file not found: '{text}' (looked for {resolved})",
                "paths are relative to the directory of the config file",
            )


def _outside_issue(
    name: str, marks: Mapping[FieldPath, NodeMarks], path: FieldPath, exc: OutsideWorkspace
) -> ConfigIssue:
    return issue_at(
        name,
        marks,
        path,
        f"path not allowed: {exc}",
        "name a file inside the repository, relative to the config file",
    )
