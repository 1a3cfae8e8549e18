#!/usr/bin/env bash
# Installs syscall-profile for a CI job, one of two ways:
#   INPUT_VERSION=X.Y.Z   the release tarball of that version, its SHA-256
#                         checked against the release's .sha256 file before
#                         anything is unpacked;
#   INPUT_VERSION=source  built from the action's own checkout
#                         (`cargo xtask setup` and `cargo install`).
# Prints the directory holding the binary on its last line, and adds it to
# $GITHUB_PATH when that is set. Every failure is one line naming the fix.
set -euo pipefail

fail() { echo "syscall-profile install: $*" >&2; exit 1; }

version="${INPUT_VERSION:-}"
[ -n "$version" ] || fail "no version given: set the action's 'version' input (a release, e.g. 0.1.0, or 'source')"
dest="${INPUT_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/syscall-profile}"
mkdir -p "$dest"

if [ "$version" = source ]; then
  root="${ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
  command -v cargo >/dev/null || fail "building from source needs a Rust toolchain (cargo) on PATH: install it with rustup, or give a release 'version'"
  (cd "$root" && cargo xtask setup && cargo install --locked --path profiler --root "$dest") >&2 \
    || fail "building from source failed (see above)"
  bin="$dest/bin"
else
  case "$version" in
    *[!0-9A-Za-z.+-]*) fail "version '$version' is not a release version (e.g. 0.1.0)";;
  esac
  base="${INPUT_RELEASE_URL:-https://github.com/syscall-profile/syscall-profile/releases/download/v$version}"
  name="syscall-profile-$version-x86_64-unknown-linux-gnu-static.tar.gz"
  command -v curl >/dev/null || fail "curl is needed to download the release"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  curl -fsSL --retry 3 -o "$work/$name" "$base/$name" || fail "cannot download $base/$name"
  curl -fsSL --retry 3 -o "$work/$name.sha256" "$base/$name.sha256" || fail "cannot download $base/$name.sha256"
  # The checksum file names the tarball; only its digest is taken.
  expected="$(cut -d' ' -f1 < "$work/$name.sha256")"
  actual="$(sha256sum "$work/$name" | cut -d' ' -f1)"
  [ "${#expected}" = 64 ] || fail "$name.sha256 holds no SHA-256 digest"
  [ "$expected" = "$actual" ] || fail "$name does not match its published SHA-256 ($actual, expected $expected): not installed"
  tar -xzf "$work/$name" -C "$work"
  found="$(find "$work" -mindepth 1 -maxdepth 3 -type f -name syscall-profile -perm -u+x | head -n1)"
  [ -n "$found" ] || fail "$name holds no syscall-profile binary"
  bin="$dest/bin"
  mkdir -p "$bin"
  install -m 0755 "$found" "$bin/syscall-profile"
fi

"$bin/syscall-profile" --version >&2 || fail "the installed binary does not run on this runner"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$bin" >> "$GITHUB_PATH"
fi
echo "$bin"
