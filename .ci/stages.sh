# shellcheck shell=bash
# Stages for .ci/run: each one runs even when an earlier one failed; `finish` lists the
# failures at the end and fails when there were any (sourced; tests/test_ci_stages.py).
failed=()

stage() {
    local name="$1"
    shift
    echo "== $name"
    if ! "$@"; then
        echo "== $name FAILED"
        failed+=("$name")
    fi
}

finish() {
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "== ci FAILED: ${#failed[@]} stage(s):"
        printf '   - %s\n' "${failed[@]}"
        return 1
    fi
    echo "== ci ok"
}
