"""Container entrypoint: hand over to ci_trainer.action (see DESIGN.md, runner contract).

The runner passes its own HOME (/github/home) and PATH into the container. Nothing here
installs into HOME, and the interpreter is addressed by absolute path in the Dockerfile,
so neither can break us; HOME is still pointed back at root's so that a library that
writes caches there does not leave files in the runner's home folder.
"""

import os
import sys

if __name__ == "__main__":
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.geteuid() == 0:
        os.environ["HOME"] = "/root"
    from ci_trainer.action import main

    sys.exit(main())
