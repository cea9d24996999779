"""The GitLab and Jenkins examples (issue 17 item 3): linted by `.ci/lint-examples` with
those ecosystems' own tools, written with the CLI's real flags, and runnable as written.

The lint tests run the script on deliberately broken copies: a check that passes the
committed files but could not fail a broken one would show nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from ci_trainer.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
GITLAB = REPO / "examples" / "gitlab" / ".gitlab-ci.yml"
JENKINS = REPO / "examples" / "jenkins" / "Jenkinsfile"


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / ".ci" / "lint-examples"), *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,  # the first run installs npm-groovy-lint from npm
        check=False,
    )


def broken_copy(source: Path, folder: Path, name: str, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{source.name} no longer holds {old!r}: update this test"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def test_a_broken_gitlab_file_and_an_unparsable_jenkinsfile_both_fail_the_lint(
    tmp_path: Path,
) -> None:
    gitlab = broken_copy(GITLAB, tmp_path, ".gitlab-ci.yml", "when: always", "when: sometimes")
    jenkins = broken_copy(
        JENKINS, tmp_path / "jenkins", "Jenkinsfile", "stage('Promote') {", "stage('Promote')"
    )
    done = lint(gitlab, jenkins)

    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    # GitLab's schema names the field; the Groovy parser names the unexpected input.
    assert "$.default.artifacts.when: 'sometimes' is not one of" in out
    assert "NglParseError" in out
    assert "   - GitLab CI schema" in done.stdout.splitlines()
    assert f"   - npm-groovy-lint {jenkins}" in done.stdout.splitlines()


def test_a_jenkinsfile_that_breaks_a_lint_rule_fails(tmp_path: Path) -> None:
    jenkins = broken_copy(
        JENKINS,
        tmp_path,
        "Jenkinsfile",
        "timeout(time: 2, unit: 'HOURS')",
        "timeout(time: 2, unit: 'HOURS')  ",
    )
    done = lint(jenkins)

    assert done.returncode == 1
    assert "TrailingWhitespace" in done.stdout


def test_a_shell_bug_in_a_job_script_or_an_sh_step_fails_the_lint(tmp_path: Path) -> None:
    gitlab = broken_copy(
        GITLAB, tmp_path, "shell.gitlab-ci.yml", "  script:\n", "  script:\n    - cd $OUT_DIR\n"
    )
    jenkins = broken_copy(
        JENKINS, tmp_path, "Jenkinsfile", "sh '''\n", "sh '''\n                    cd $OUT_DIR\n"
    )
    done = lint(gitlab, jenkins)

    assert done.returncode == 1
    assert "SC2086" in done.stdout  # unquoted: word splitting
    assert "gitlab0.nlu-train.sh" in done.stdout and "jenkins0.sh2.sh" in done.stdout
    assert "   - shellcheck" in done.stdout.splitlines()


# --- what the files say -------------------------------------------------------------


def gitlab_jobs() -> dict[str, dict[str, object]]:
    config = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    return {
        name: body for name, body in config.items() if isinstance(body, dict) and "script" in body
    }


def jenkins_stages() -> dict[str, str]:
    """Each stage's text, by name (the stages are not nested in this file)."""
    text = JENKINS.read_text(encoding="utf-8")
    parts = re.split(r"^\s*stage\('([^']+)'\) \{$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def jenkins_commands(stage: str) -> list[str]:
    steps = re.findall(r"\bsh '''(.*?)'''", jenkins_stages()[stage], flags=re.S)
    return [" ".join(step.replace("\\\n", " ").split()) for step in steps]


def gitlab_commands(job: str) -> list[str]:
    return [str(line) for line in gitlab_jobs()[job]["script"]]  # type: ignore[attr-defined]


def parsed(command: str) -> dict[str, object]:
    """The command's options as ci-trainer's own parser reads them (an unknown or
    misspelt flag makes argparse exit, failing the test)."""
    words = shlex.split(command)
    program = words.index(next(w for w in words if w.endswith("ci-trainer")))
    return vars(build_parser().parse_args(words[program + 1 :]))


def test_merge_requests_train_and_the_default_branch_promotes_with_the_cli_flags() -> None:
    jobs = gitlab_jobs()
    assert set(jobs) == {"nlu-train", "nlu-promote"}
    train = jobs["nlu-train"]
    assert [rule["if"] for rule in train["rules"]] == [  # type: ignore[attr-defined]
        '$CI_PIPELINE_SOURCE == "merge_request_event"'
    ]
    fetch, command = gitlab_commands("nlu-train")
    assert parsed(command)["mode"] == "train"
    # The data diff: the target branch fetched, the whole history, and --base naming it.
    target = "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
    assert parsed(command)["base"] == target
    assert fetch.startswith("git fetch") and f":refs/remotes/{target[:6]}" in fetch
    assert train["variables"] == {"GIT_DEPTH": "0"}
    [promote_command] = gitlab_commands("nlu-promote")
    assert parsed(promote_command)["mode"] == "promote"
    promote = jobs["nlu-promote"]
    assert promote["resource_group"] and promote["interruptible"] is False
    assert "$CI_DEFAULT_BRANCH" in promote["rules"][0]["if"]  # type: ignore[index]
    assert "resource_group" not in train and "merge_request_event" not in str(promote["rules"])


def test_the_gitlab_artifacts_are_what_the_commands_write() -> None:
    config = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    artifacts = config["default"]["artifacts"]
    assert artifacts["when"] == "always"
    for job in gitlab_jobs():
        options = parsed(gitlab_commands(job)[-1])
        assert artifacts["reports"]["junit"] == options["junit"]
        assert options["audit_log"] in artifacts["paths"]
        assert predictions_of(str(options["audit_log"])) in artifacts["paths"]
        assert f"{options['output_dir']}/" in artifacts["paths"]


def test_the_jenkins_stages_train_on_pull_requests_and_promote_on_main_under_a_lock() -> None:
    stages = jenkins_stages()
    assert list(stages) == ["Install", "Train", "Promote"]
    assert "when { changeRequest() }" in stages["Train"]
    assert "when { branch 'main' }" in stages["Promote"]
    assert "lock(resource: 'nlu-production')" in stages["Promote"]
    assert "lock(" not in stages["Train"]
    [train] = jenkins_commands("Train")
    [promote] = jenkins_commands("Promote")
    assert (parsed(train)["mode"], parsed(promote)["mode"]) == ("train", "promote")
    assert parsed(train)["base"] == "origin/$CHANGE_TARGET"
    assert train.startswith("git fetch") and "refs/remotes/origin/$CHANGE_TARGET" in train
    # Each stage binds its own client: the pull request's cannot promote.
    for stage, client in (("Train", "cognigy-train"), ("Promote", "cognigy-promote")):
        assert f"COGNIGY_CLIENT_SECRET = credentials('{client}-client-secret')" in stages[stage]


def test_the_jenkins_post_step_publishes_what_the_commands_write() -> None:
    text = JENKINS.read_text(encoding="utf-8")
    post = text.split("\n    post {", 1)[1]
    always = post.split("always {", 1)[1]
    junit = re.search(r"junit testResults: '([^']+)'", always)
    archived = re.search(r"archiveArtifacts .*?artifacts:\s*'([^']+)'", always, flags=re.S)
    assert junit is not None and archived is not None
    patterns = [item.strip() for item in archived.group(1).split(",")]
    for stage in ("Train", "Promote"):
        options = parsed(jenkins_commands(stage)[0])
        assert junit.group(1) == options["junit"]
        assert options["audit_log"] in patterns
        assert predictions_of(str(options["audit_log"])) in patterns
        assert f"{options['output_dir']}/**" in patterns


def test_no_secret_is_written_in_the_examples() -> None:
    for path in (GITLAB, JENKINS):
        text = path.read_text(encoding="utf-8")
        for name in ("COGNIGY_CLIENT_SECRET", "COGNIGY_API_KEY", "WEBHOOK_SECRET"):
            # Named in comments, or bound from the CI's credentials: never given a value.
            assigned = re.search(rf"{name}\s*[:=]\s*(?!credentials\(')\S", text)
            assert assigned is None, (path.name, assigned.group(0) if assigned else "")


def predictions_of(audit_log: str) -> str:
    """Where the run keeps the holdout predictions: beside the audit log, named after it."""
    path = Path(audit_log)
    return (path.parent / f"{path.stem}.predictions.jsonl").as_posix()


# --- the examples run ---------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A user's repository as a merge request's job finds it: the sample config and
    datasets, main's commit, and the request's branch checked out, which adds examples to
    one intent; its origin (a bare copy) holds both branches, but main is not fetched
    yet, as in a merge request pipeline."""
    from git_repos import base_and_pull_request, edit_yaml, git

    work = tmp_path / "work"
    work.mkdir()

    def more_refunds(folder: Path) -> None:
        edit_yaml(
            folder,
            "datasets/customer_service.yaml",
            lambda data: data["refund_status"].extend(
                ["has the refund for order 1182 gone out", "refund still not in my account"]
            ),
        )

    base_and_pull_request(work, more_refunds)
    git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / "origin.git"))
    git(work, "remote", "add", "origin", (tmp_path / "origin.git").as_uri())
    git(work, "branch", "-q", "-D", "main")
    return work


def run_script(
    shell: str, script: str, where: Path, variables: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """A job's script as its CI runs it, against the embedded emulator instead of a
    tenant (`--emulator` is the one word added), with no CI variables set but
    `variables`."""
    env: Mapping[str, str] = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_", "CI"))
    }
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        [shell, "-e", "-c", script.rstrip() + " --emulator"],
        cwd=where,
        env={**env, **variables, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# What a merge request pipeline sets that the train job reads.
GITLAB_MR = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}


def assert_the_data_diff_against_main(checkout: Path) -> None:
    """The train job fetched main and compared the data with it: the intent the branch
    added two examples to is the table's one row."""
    summary = (checkout / "ci-trainer-output" / "summary.md").read_text(encoding="utf-8")
    section = summary.split("### Data diff against the base\n", 1)[1].split("\n### ", 1)[0]
    assert "Against origin/main at the merge base" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[:2] for row in rows[1:]] == [
        ["| refund\\_status", "+2 \u22120 (38 \u2192 40)"]
    ]


def snapshot(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


def written(root: Path, before: dict[Path, int]) -> set[str]:
    """The files a run added or changed, relative to the checkout (the emulator's state
    and git's own files aside)."""
    return {
        path.relative_to(root).as_posix()
        for path, mtime in snapshot(root).items()
        if before.get(path) != mtime and not {".ci-trainer-emulator", ".git"} & set(path.parts)
    }


def covered(path: str, patterns: list[str]) -> bool:
    return any(
        path == pattern or (pattern.endswith(("/", "/**")) and path.startswith(pattern.rstrip("*")))
        for pattern in patterns
    )


def test_the_gitlab_jobs_run_as_written_and_keep_every_file_they_write(checkout: Path) -> None:
    artifacts = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["default"]["artifacts"]
    for job, decision in (("nlu-train", "approved"), ("nlu-promote", "promoted")):
        before = snapshot(checkout)
        # The runner runs a job's script lines one after the other in one shell.
        script = "\n".join(gitlab_commands(job))
        done = run_script("bash", script, checkout, GITLAB_MR)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"ci-trainer: {decision} - " in done.stdout
        if decision == "approved":
            assert_the_data_diff_against_main(checkout)
        added = written(checkout, before)
        assert artifacts["reports"]["junit"] in added
        assert {"cognigy_training_audit.log", "ci-trainer-output/summary.md"} <= added
        assert [path for path in added if not covered(path, artifacts["paths"])] == []


def test_the_jenkins_stages_run_as_written_and_archive_every_file_they_write(
    checkout: Path,
) -> None:
    venv = checkout / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "ci-trainer").symlink_to(Path(sys.executable).parent / "ci-trainer")
    archived = re.search(
        r"archiveArtifacts .*?artifacts:\s*'([^']+)'", JENKINS.read_text("utf-8"), flags=re.S
    )
    assert archived is not None
    patterns = [item.strip() for item in archived.group(1).split(",")]
    for stage, decision in (("Train", "approved"), ("Promote", "promoted")):
        before = snapshot(checkout)
        [step] = re.findall(r"\bsh '''(.*?)'''", jenkins_stages()[stage], flags=re.S)
        done = run_script("sh", step, checkout, {"CHANGE_TARGET": "main"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"ci-trainer: {decision} - " in done.stdout
        if decision == "approved":
            assert_the_data_diff_against_main(checkout)
        added = written(checkout, before)
        assert "ci-trainer-output/junit.xml" in added
        assert [path for path in added if not covered(path, patterns)] == []


def test_the_readme_shows_each_example_whole_in_outside_github_actions() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Outside GitHub Actions\n", 1)[1].split("\n## ", 1)[0]
    for title, path, fence in (("GitLab CI", GITLAB, "yaml"), ("Jenkins", JENKINS, "groovy")):
        part = section.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]
        assert f"```{fence}\n{path.read_text(encoding='utf-8').rstrip()}\n```" in part, title
