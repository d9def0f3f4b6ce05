# Sourced by the benchmark run.sh scripts (with `root` set to the repository root): sets
# FLUXGATE_BIN to a release build of the working tree (scratch path .build-rel) unless it is
# already set, and says which binary the figures come from.
if [[ -z "${FLUXGATE_BIN:-}" ]]; then
    swift build -c release --product fluxgate --scratch-path .build-rel >&2
    FLUXGATE_BIN="$root/.build-rel/release/fluxgate"
    echo "fluxgate built from the working tree at $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- Sources || echo ' (+ uncommitted Sources edits)')"
else
    echo "fluxgate: $FLUXGATE_BIN"
fi
