"""Keep README.md's copies of the contract and configuration reference in step.

The sections live in docs/ (docs/contract.md, docs/configuration.md), where tests check
them against openapi.yaml and the JSON Schema; README.md carries a verbatim copy between
markers. The GitLab and Jenkins examples are copied the same way, each as one fenced
block, from the files `.ci/lint-examples` lints. Run `python tests/readme_sections.py`
to refresh the copies.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTIONS = {
    "contract": ROOT / "docs" / "contract.md",
    "configuration": ROOT / "docs" / "configuration.md",
}
# Example CI files shown whole in the README, with the language of their fence.
EXAMPLES = {
    "gitlab-ci": (ROOT / "examples" / "gitlab" / ".gitlab-ci.yml", "yaml"),
    "jenkinsfile": (ROOT / "examples" / "jenkins" / "Jenkinsfile", "groovy"),
}


def section_text(name: str) -> str:
    if name in EXAMPLES:
        path, language = EXAMPLES[name]
        return f"```{language}\n{path.read_text(encoding='utf-8').rstrip()}\n```\n"
    text = SECTIONS[name].read_text(encoding="utf-8")
    if name == "configuration":
        # The README takes the reference itself, not the doc's page title and preface.
        text = text[text.index("## Configuration reference") :]
    # Links in docs/ are relative to docs/; in the README they are relative to the root.
    text = re.sub(r"\]\(\.\./", "](", text)
    return text.strip() + "\n"


def source(name: str) -> Path:
    return EXAMPLES[name][0] if name in EXAMPLES else SECTIONS[name]


def block(name: str) -> str:
    return f"<!-- {name}:start (copied from {source(name).relative_to(ROOT)} by tests/readme_sections.py) -->\n{section_text(name)}<!-- {name}:end -->"


def pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- {name}:start[^>]*-->\n.*?<!-- {name}:end -->", re.DOTALL)


def refreshed(readme: str) -> str:
    for name in [*SECTIONS, *EXAMPLES]:
        readme = pattern(name).sub(lambda _m, n=name: block(n), readme)
    return readme


if __name__ == "__main__":
    README.write_text(refreshed(README.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
