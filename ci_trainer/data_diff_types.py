"""The data diff against the base as RunResult holds it: what a pull request changed in
the committed datasets and the holdout, per intent (`ci_trainer.data_diff` computes it).

Lists are bounded (the first few intents and example texts); the counts are whole, so a
reader knows how much was left out.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# How texts are compared, in the report's and the docs' words (the key of
# `datasets.normalise_text`, which the conflict and leakage checks match on).
NORMALISATION = (
    "case-folded, runs of whitespace as one space, leading and trailing spaces and "
    ". ! ? , ; : trimmed"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExampleMove(_Model):
    """An example text that the base had under another intent."""

    text: str
    from_intent: str
    to_intent: str


class IntentDiff(_Model):
    """One intent whose examples differ from the base's. `change` is `added` (a new
    intent), `removed` (gone), `renamed` (a new name for an intent gone, see
    `data_diff.RENAME_SHARE`) or `changed`."""

    intent: str
    change: str
    renamed_from: str | None = None
    base_examples: int = 0  # at the base (under `renamed_from` for a renamed intent)
    head_examples: int = 0  # in the working tree
    added_count: int = 0  # texts the base had under no intent of this file
    removed_count: int = 0  # texts the working tree has under no intent of this file
    moved_in_count: int = 0  # texts the base had under another intent
    moved_out_count: int = 0  # texts now under another intent
    added: list[str] = Field(default_factory=list)  # the first few of each
    removed: list[str] = Field(default_factory=list)
    moved_in: list[ExampleMove] = Field(default_factory=list)

    @property
    def changed_examples(self) -> int:
        return self.added_count + self.removed_count + self.moved_in_count + self.moved_out_count


class FileDiff(_Model):
    """One committed file (a dataset, or the holdout) at the base and in the working tree."""

    dataset_id: str | None  # None: the holdout
    path: str
    at_base: bool  # False: the file is new since the base (every intent is added)
    base_sha256: str | None = None
    head_sha256: str | None = None
    base_examples: int = 0
    head_examples: int = 0
    intents_added_count: int = 0
    intents_removed_count: int = 0
    intents_renamed_count: int = 0
    intents_changed_count: int = 0
    examples_added_count: int = 0
    examples_removed_count: int = 0
    examples_moved_count: int = 0
    # Changed intents, the most changed first; at most `data_diff.MAX_INTENTS`.
    intents: list[IntentDiff] = Field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(
            not self.at_base
            or self.intents_added_count
            or self.intents_removed_count
            or self.intents_renamed_count
            or self.intents_changed_count
        )

    @property
    def changed_intents_count(self) -> int:
        return (
            self.intents_added_count
            + self.intents_removed_count
            + self.intents_renamed_count
            + self.intents_changed_count
        )


class DataDiff(_Model):
    """The committed datasets and holdout at the merge base of HEAD and the base ref,
    compared with the working tree; or, in `unavailable`, why there is no comparison and
    in `hint` how to get one."""

    base_ref: str  # as asked for (`--base`, or the pull request's base branch)
    requested_by: str  # "--base" or "GITHUB_BASE_REF"
    resolved_ref: str | None = None  # the ref that named a commit (e.g. origin/main)
    base_commit: str | None = None  # the merge base of HEAD and resolved_ref
    unavailable: str | None = None
    hint: str | None = None
    datasets: list[FileDiff] = Field(default_factory=list)
    holdout: FileDiff | None = None

    @property
    def differs(self) -> bool:
        return any(d.differs for d in self.datasets) or bool(self.holdout and self.holdout.differs)
