"""Regenerate examples/step-summary.md (and the README's copy) from a real sample run.

`python tests/action/example_summary.py` runs the sample config against the embedded
emulator twice, in a git repository made for it, as a repository's workflows would: a
push to main promotes a model trained on the base commit, whose `refund_status` has
BASE_CUT fewer examples; then a pull request that adds them back (the committed sample
data) trains a candidate, compares it with that production model and diffs its data
against main. The pull request's step summary becomes the example;
tests/action/test_readme.py checks the README embeds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "step-summary.md"
README = REPO / "README.md"

# What GitHub sets for a pull request run; illustrative values.
PULL_REQUEST_ENV = {
    "GITHUB_REPOSITORY": "acme/nlu-models",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_REF": "refs/pull/7/merge",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_WORKFLOW": "NLU pull request",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_BASE_REF": "main",
}
# The pull request's change: these many examples added to this intent.
BASE_INTENT = "refund_status"
BASE_CUT = 12
# Fixed names and dates, so the base commit (shown in the summary) is the same each time.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "octocat",
    "GIT_AUTHOR_EMAIL": "octocat@example.com",
    "GIT_AUTHOR_DATE": "2026-01-05T09:00:00Z",
    "GIT_COMMITTER_NAME": "octocat",
    "GIT_COMMITTER_EMAIL": "octocat@example.com",
    "GIT_COMMITTER_DATE": "2026-01-05T09:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
    )


def _without_last_examples(text: str, intent: str, count: int) -> str:
    """The YAML dataset with the last `count` examples of `intent` left out."""
    lines = text.split("\n")
    start = lines.index(f"{intent}:")
    end = start + 1
    while end < len(lines) and (lines[end].startswith("  - ") or not lines[end].strip()):
        end += 1
    examples = [i for i in range(start + 1, end) if lines[i].startswith("  - ")]
    dropped = set(examples[-count:])
    return "\n".join(line for i, line in enumerate(lines) if i not in dropped)


def sample_repository(root: Path) -> Path:
    """A repository holding the sample project: main's commit without BASE_CUT examples
    of BASE_INTENT, checked out on branch `feature` that adds them; its config path."""
    shutil.copy(REPO / "training-config.yaml", root / "training-config.yaml")
    shutil.copytree(REPO / "datasets", root / "datasets")
    dataset = root / "datasets" / "customer_service.yaml"
    head = dataset.read_text(encoding="utf-8")
    dataset.write_text(_without_last_examples(head, BASE_INTENT, BASE_CUT), encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "sample project")
    _git(root, "checkout", "-q", "-b", "feature")
    dataset.write_text(head, encoding="utf-8")
    _git(root, "commit", "-q", "-am", f"more {BASE_INTENT} examples")
    return root / "training-config.yaml"


def sample_summary() -> str:
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
    from ci_trainer.progress import ConsoleReporter
    from ci_trainer.report import render_summary
    from ci_trainer.result import Mode
    from ci_trainer.run import execute
    from ci_trainer.settings import Settings

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        config = sample_repository(repo)
        reporter = ConsoleReporter(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
        audit = Path(tmp) / "audit.log"
        with Emulator.from_config(config) as emulator:
            credentials = {
                "COGNIGY_BASE_URL": emulator.base_url,
                "COGNIGY_CLIENT_ID": emulator.client_id,
                "COGNIGY_CLIENT_SECRET": emulator.client_secret,
            }
            # main promotes what its commit holds; the pull request's branch trains.
            for branch, mode, extra in (
                ("main", Mode.PROMOTE, {}),
                ("feature", Mode.TRAIN, PULL_REQUEST_ENV),
            ):
                _git(repo, "checkout", "-q", branch)
                settings = Settings.from_env(
                    {**credentials, **extra}, config_path=config, mode=mode, audit_log=audit
                )
                result = execute(settings, reporter)
        # The audit path is a temporary file and the config's is this machine's; show
        # the names a user would see.
        result = result.model_copy(
            update={
                "audit_log": "cognigy_training_audit.log",
                "config_path": "training-config.yaml",
            }
        )
        return render_summary(result)


def demoted(summary: str) -> str:
    """The README nests the example one heading level deeper."""
    return "\n".join(
        "#" + line if line.startswith(("## ", "### ", "#### ")) else line
        for line in summary.rstrip("\n").split("\n")
    )


def main() -> int:
    old = EXAMPLE.read_text(encoding="utf-8")
    new = sample_summary()
    EXAMPLE.write_text(new, encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    if demoted(old) not in readme:
        print("README.md does not embed the old example; update it by hand", file=sys.stderr)
        return 1
    README.write_text(readme.replace(demoted(old), demoted(new)), encoding="utf-8")
    print(f"wrote {EXAMPLE.relative_to(REPO)} and README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
