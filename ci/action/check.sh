#!/usr/bin/env bash
# The gate of a CI job: runs INPUT_COMMAND under `syscall-profile check`
# against the committed policy INPUT_POLICY, writes the JUnit and JSON
# reports and the run's own profile into INPUT_REPORTS, and, in a GitHub
# job, the job summary: what the run used that the policy lacks, as the
# Markdown diff of the policy and the run. Exits as `check` does: 0 passed,
# 1 outside the policy, 2 usage or a failed recording, 3 the command failed.
set -euo pipefail

fail() { echo "syscall-profile check: $*" >&2; exit 2; }

policy="${INPUT_POLICY:-}"
command="${INPUT_COMMAND:-}"
reports="${INPUT_REPORTS:-syscall-profile-reports}"
tool="${SYSCALL_PROFILE:-syscall-profile}"
[ -n "$policy" ] || fail "no policy given: set the 'policy' input to the committed profile (e.g. seccomp/policy.json)"
[ -f "$policy" ] || fail "the policy $policy does not exist: record one first (syscall-profile record -o $policy -- COMMAND) and commit it"
[ -n "$command" ] || fail "no command given: set the 'command' input to what the job runs (e.g. ./run-tests)"
mkdir -p "$reports"

args=(check --policy "$policy" --junit "$reports/seccomp-junit.xml"
      --json "$reports/seccomp-check.json" --save-observed "$reports/observed.json")
# shellcheck disable=SC2206 # extra options, split as a shell line would be
[ -z "${INPUT_ARGS:-}" ] || args+=(${INPUT_ARGS})
# The command is run as the words it is made of (quotes and expansions as
# in a shell line: it is the workflow's own text), not through a shell, so
# that the run is the one the policy was recorded from (`record -o POLICY
# -- COMMAND`) and a `docker run ...` is recorded as the container. For a
# pipeline, give `sh -c '...'`, and record the policy the same way.
eval "set -- $command"
status=0
"$tool" "${args[@]}" -- "$@" || status=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "## syscall-profile check"
    echo
    case "$status" in
      0) echo "Passed: every syscall the run made is allowed by \`$policy\`.";;
      1) echo "Failed: the run made syscalls (or used argument values) that \`$policy\` does not allow.";;
      3) echo "The policy check passed, but the command itself failed.";;
      *) echo "The check could not run (exit status $status); see the job's log.";;
    esac
    if [ -f "$reports/observed.json" ]; then
      echo
      "$tool" diff "$policy" "$reports/observed.json" --format markdown || true
    fi
  } >> "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
