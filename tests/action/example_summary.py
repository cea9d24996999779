"""Regenerate examples/step-summary.md (and the README's copy) from a real sample run.

`python tests/action/example_summary.py` runs the sample config against the embedded
emulator twice, as a repository's workflows would: a push to main promotes a model,
then a pull request trains a candidate and compares it with that production model. The
pull request's step summary becomes the example; tests/action/test_readme.py checks the
README embeds it.
"""

from __future__ import annotations

import os
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
}


def sample_summary() -> str:
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
    from ci_trainer.progress import ConsoleReporter
    from ci_trainer.report import render_summary
    from ci_trainer.result import Mode
    from ci_trainer.run import execute
    from ci_trainer.settings import Settings

    config = REPO / "training-config.yaml"
    with Emulator.from_config(config) as emulator, tempfile.TemporaryDirectory() as tmp:
        credentials = {
            "COGNIGY_BASE_URL": emulator.base_url,
            "COGNIGY_CLIENT_ID": emulator.client_id,
            "COGNIGY_CLIENT_SECRET": emulator.client_secret,
        }
        reporter = ConsoleReporter(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
        audit = Path(tmp) / "audit.log"
        for mode, extra in ((Mode.PROMOTE, {}), (Mode.TRAIN, PULL_REQUEST_ENV)):
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
