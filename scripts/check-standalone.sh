#!/usr/bin/env bash
# Proves the tests need nothing outside the repository: clones the committed HEAD into a fresh
# temporary folder with nothing beside it and runs there the test suites of the crates that read
# files (sigil-jose: the vectors in crates/sigil-jose/tests/vectors). Also refuses code that names
# the old outside locations (the reference folder beside the checkout, and the variable that named
# it). Uncommitted changes are not checked.
#   bash scripts/check-standalone.sh            # CRATES="sigil-jose" by default
# The build reuses this checkout's target folder (CARGO_TARGET_DIR), so dependencies are not
# compiled again. The crates under test get a profile override that changes nothing but their
# artifact hash (codegen-units 255 instead of 256): without it the clone's test binaries, which
# carry the clone's path (env!("CARGO_MANIFEST_DIR")), would replace the checkout's under the
# same names, and the checkout would then run binaries pointing into a deleted folder (or the clone
# would run the checkout's, pointing back into the checkout, which proves nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
crates=${CRATES:-sigil-jose}
head=$(git rev-parse HEAD)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}

echo "== no code names a location outside the repository"
# Prose (*.md) may mention where things came from; code and scripts may not read from there.
# The patterns are assembled so that this script does not itself name those locations.
outside_dir='\.\.[/]'"sha""red"
outside_var='SIGIL_''SHARED_DIR'
if git grep -n -I -e "$outside_dir" -e "$outside_var" -- ':!*.md' ':!scripts/check-standalone.sh'; then
  echo "check-standalone: the lines above read from outside the repository" >&2
  exit 1
fi

if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  echo "note: uncommitted changes are not part of the check (it tests commit ${head:0:12})"
fi

tmp=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$tmp" "$log"' EXIT
git clone --quiet --no-checkout "$repo" "$tmp/sigil"
git -C "$tmp/sigil" checkout --quiet --detach "$head"
# Nothing beside the clone: a test reaching for ../something finds nothing.
[[ "$(ls -A "$tmp")" == sigil ]] || { echo "temporary folder not empty" >&2; exit 2; }

echo "== tests of [$crates] in a lone clone of ${head:0:12} ($tmp/sigil)"
args=()
for crate in $crates; do
  args+=(-p "$crate" --config "profile.dev.package.$crate.codegen-units=255")
done
rc=0
(cd "$tmp/sigil" && cargo test "${args[@]}") >"$log" 2>&1 || rc=$?
grep -E '^test result|Compiling sigil' "$log" || true
if [[ $rc -ne 0 ]]; then
  grep -vE '^test .* ok$|^\.+$' "$log" | tail -n 60 >&2
  echo "check-standalone: tests fail in a lone clone (exit $rc)" >&2
  exit 1
fi
if ! grep -q "Compiling sigil" "$log"; then
  echo "check-standalone: nothing was compiled in the clone, so its tests may not be its own" >&2
  exit 1
fi
echo "check-standalone: [$crates] pass with nothing outside the repository"
