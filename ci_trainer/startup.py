"""What `ci-trainer run` does before the pipeline's heavy imports: an early request to
the training service, and importing the end of a run while the service trains.

The CLI calls `start_from_env` right after parsing its arguments. It reads which backend
the config names and lets that backend's plug-in `prefetch` (cognigy-v1 sends its token
request from a thread, so the first real request finds the answer waiting).

Which backend the config names is read with the config loader's own YAML composer
(PyYAML's safe loader), not a pattern: the full loader (pydantic) would cost the time
the prefetch saves. The answer is the registry's: the config's `backend`, else
`DEFAULT_BACKEND`. Anything unusual (a merge key, a repeated key, a value that is not a
plain string, a file that does not parse) means no prefetch; the full loader then
reports the problem. Nothing here logs, prints or raises.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from ci_trainer.backends import DEFAULT_BACKEND, names, plugin

_CONFIG_READ_LIMIT = 1 << 20  # the config loader's own size limit
_STR_TAG = "tag:yaml.org,2002:str"


def start_from_env(env: Mapping[str, str], config_path: str | Path) -> bool:
    """Let the config's backend send its early request; True when one went out."""
    try:
        name = config_backend(Path(config_path))
        return name in names() and plugin(name).prefetch(env)
    except Exception:  # only ever an optimisation: the normal path reports any problem
        return False


def config_backend(path: Path) -> str | None:
    """The backend the config at `path` names (the registry's default when it names
    none), or None when that cannot be told for sure without the full loader."""
    import yaml

    # The loader the config loader composes with (ci_trainer.config.yamltree).
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as stream:
        raw = stream.read(_CONFIG_READ_LIMIT + 1)
    if len(raw) > _CONFIG_READ_LIMIT:
        return None
    try:
        root = yaml.compose(raw.decode("utf-8-sig"), Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    named = [
        (key.value, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value in ("backend", "<<")
    ]
    if not named:
        return DEFAULT_BACKEND
    # A merge key or a repeated key could change the answer: the full loader decides.
    if len(named) != 1 or named[0][0] != "backend":
        return None
    value = named[0][1]
    if not isinstance(value, yaml.ScalarNode) or value.tag != _STR_TAG:
        return None
    return str(value.value)


# Modules only the end of a run needs (numpy through the gate, jsonschema through the
# audit, the report). Imported while the training runs, they are ready when it ends.
_LATE_MODULES = ("ci_trainer.gate", "ci_trainer.audit", "ci_trainer.webhook", "ci_trainer.report")


def warm_up_late_imports() -> None:
    """Import `_LATE_MODULES` in a daemon thread while the service trains."""
    # Imported here so this function stays one self-contained block at the end of the module.
    import importlib
    import logging

    log = logging.getLogger("ci_trainer")

    def load() -> None:
        for name in _LATE_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # the real import later reports any problem properly
                log.debug("warming up %s failed", name, exc_info=True)

    threading.Thread(target=load, name="ci-trainer-warm-up", daemon=True).start()
