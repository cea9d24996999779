# ci-trainer as a GitHub container action (action.yml: runs.using docker, image Dockerfile).
#
# The base is pinned by digest, so a rebuild uses the same OS and interpreter: the digest
# is python:3.12.14-slim-trixie's (Debian 13), the tag it was resolved from is named so
# the release is plain. (No registry is reachable from the development machines; this
# digest is the one public repositories pin for it. Re-resolve it with
# `docker buildx imagetools inspect python:3.12-slim-trixie` when bumping.)
FROM python:3.12.14-slim-trixie@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

# No .pyc files in the image or the workspace; log lines reach the runner as they happen.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# git reads the committed datasets at the pull request's merge base (the data diff); the
# image has none. Pinned per Debian release, each to the version that release serves
# (`apt-cache policy git`): trixie for the base above, bookworm for the local build tool,
# which swaps every base for Debian 12's Python. Another release fails the build here,
# by name, rather than installing whatever it serves. Bump the pins with the base. No
# recommends (no ssh client, no perl modules beyond git's own), and the package lists
# are removed, so the layer holds git alone.
RUN . /etc/os-release \
    && apt-get update \
    && case "$VERSION_CODENAME" in \
         trixie) apt-get install --yes --no-install-recommends git=1:2.47.3-0+deb13u1 ;; \
         bookworm) apt-get install --yes --no-install-recommends git=1:2.39.5-0+deb12u3 ;; \
         *) echo "no git pin for Debian $VERSION_CODENAME: add one" >&2; exit 1 ;; \
       esac \
    && rm -rf /var/lib/apt/lists/* \
    && git --version

# Dependencies first, in their own layer: it is rebuilt only when the pins change.
# --no-deps + pip check: the file pins the whole closure, nothing unpinned sneaks in.
COPY requirements/action.txt /app/requirements/action.txt
RUN python -m pip install --no-deps --requirement /app/requirements/action.txt \
    && python -m pip check

# The package itself: plain files under /app, found because the entrypoint's folder is
# first on sys.path. No build step, so no setuptools in the image.
COPY ci_trainer /app/ci_trainer
COPY entrypoint.py /app/entrypoint.py

# No USER: the runner mounts the workspace owned by its own user and runs the container
# as root; the action hands the files it writes back to the workspace's owner.
# No WORKDIR reliance: the runner sets the working directory to /github/workspace.
# The interpreter by absolute path: the runner passes the step's PATH into the container,
# and a workflow's PATH must not decide whether the action starts.
ENTRYPOINT ["/usr/local/bin/python", "/app/entrypoint.py"]
