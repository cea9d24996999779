"""One error hierarchy: every exception class under ci_trainer/ is a CiTrainerError.

A CiTrainerError carries the decision the run ends with, and its exit code comes from
the one decision -> exit code table; an exception outside the hierarchy would reach the
top level as a bug (traceback, exit 3) even when it is a user's mistake.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import ci_trainer
from ci_trainer.decision import EXIT_CODES, Decision
from ci_trainer.errors import CiTrainerError

PACKAGE = Path(ci_trainer.__file__).resolve().parent

# Exception classes that stay outside CiTrainerError, with their subclasses. Keep it
# short: a new entry needs a reason a run can never end with that exception.
ALLOWED_ROOTS = {
    # Control flow inside one reader: caught there and turned into a ConfigIssue or a
    # switch to another parser, never raised out of the module.
    "ci_trainer.config.yamltree.YamlRejected",
    "ci_trainer.datasets.yaml_events.AliasFound",
    # The emulator's server side: each becomes an HTTP answer (or a dropped connection,
    # or a FAILED training job) for the client; none leaves the stand-in service.
    "ci_trainer.emulator.problem.Problem",
    "ci_trainer.emulator.training.TrainingCancelled",
    "ci_trainer.emulator.training.TrainingRejected",
    "ci_trainer.backends.cognigy_v1.emulator.app.ConnectionDropped",
    "ci_trainer.backends.cognigy_v2.emulator.problems.V2Problem",
    "ci_trainer.backends.cognigy_v2.emulator.problems.TaskFailed",
    "ci_trainer.backends.cognigy_v2.emulator.problems.OAuthError",
    # The HTTP layer's kinds of failed attempt: requests exceptions one attempt returns
    # (never raises) to HttpClient.send, which turns each into an ApiError; Stopped
    # becomes Interrupted there. StrictJsonError is the ValueError of
    # HttpResponse.json(), which every decoder turns into a ContractError.
    "ci_trainer.http.body.BodyTooLarge",
    "ci_trainer.http.body.BodyDecodingError",
    "ci_trainer.http.body.Abandoned",
    "ci_trainer.http.exchange.DeadlineExceeded",
    "ci_trainer.http.exchange.Stopped",
    "ci_trainer.http.strict_json.StrictJsonError",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _class_names(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield node.name


def exception_classes() -> Iterator[tuple[str, type[BaseException]]]:
    """(qualified name, class) of every exception class defined in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":  # runs the CLI when imported
            continue
        module = importlib.import_module(_module_name(path))
        for name in _class_names(path):
            found = getattr(module, name, None)
            if (
                isinstance(found, type)
                and issubclass(found, BaseException)
                and found.__module__ == module.__name__
            ):
                yield f"{module.__name__}.{name}", found


def _allowed(cls: type[BaseException]) -> bool:
    return any(f"{base.__module__}.{base.__qualname__}" in ALLOWED_ROOTS for base in cls.__mro__)


def test_every_exception_class_is_a_ci_trainer_error() -> None:
    outside = [
        name
        for name, cls in exception_classes()
        if not issubclass(cls, CiTrainerError) and not _allowed(cls)
    ]
    assert outside == [], "subclass CiTrainerError (or a subclass) instead"


def test_the_allow_list_names_classes_that_exist() -> None:
    defined = {name for name, _ in exception_classes()}
    assert not ALLOWED_ROOTS - defined, ALLOWED_ROOTS - defined


def test_the_walk_finds_the_hierarchy() -> None:
    names = {name for name, _ in exception_classes()}
    assert {
        "ci_trainer.errors.ConfigError",
        "ci_trainer.errors.FeatureUnavailable",
        "ci_trainer.workspace.OutsideWorkspace",
    } <= names


def test_no_error_class_states_its_own_exit_code() -> None:
    """The exit code is always the decision's, from the one table."""
    stating = [
        name
        for name, cls in exception_classes()
        if issubclass(cls, CiTrainerError)
        and "exit_code" in vars(cls)
        and cls is not CiTrainerError
    ]
    assert stating == []


@pytest.mark.parametrize("decision", list(Decision))
def test_an_error_exits_with_its_decisions_code(decision: Decision) -> None:
    error = type("Example", (CiTrainerError,), {"decision": decision})("x")
    assert error.exit_code == EXIT_CODES[decision] == decision.exit_code


def test_every_decision_has_an_exit_code() -> None:
    assert set(EXIT_CODES) == set(Decision)
