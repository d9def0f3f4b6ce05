#!/usr/bin/env bash
# Fuzzes the SocketIO decoders with libFuzzer: builds the targets of Fuzz/ with the fuzzer and
# address sanitizers, then runs each for SECONDS (default 60).
#   bash scripts/fuzz.sh [SECONDS]
# Fails (non-zero exit) when a target crashes, traps, times out on one input or reports a
# sanitizer error; the input that did it is kept in .build-fuzz/findings/<target>/ (replay it with
# `.build-fuzz/debug/<target> <file>`). New corpus entries go to .build-fuzz/corpus/<target>/, so a
# later run starts from them; the checked-in seeds are in Fuzz/Seeds/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
scratch=.build-fuzz
targets=(fuzz-engineio fuzz-socketio)
# swiftc keeps only the last -sanitize= option for coverage: SwiftPM's separate
# `-sanitize=fuzzer -sanitize=address` give address-sanitized code without coverage counters
# (libFuzzer then reports "no interesting inputs"), so the combined option is added last.
build=(swift build -c debug --package-path Fuzz --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address
    -Xswiftc -sanitize=address,fuzzer)

echo "== fuzz: build (${targets[*]})"
# FLUXGATE_ONLY keeps the main package's manifest down to the SocketIO module the targets use.
FLUXGATE_ONLY=SocketIO "${build[@]}"
bin="$(FLUXGATE_ONLY=SocketIO "${build[@]}" --show-bin-path)"

for target in "${targets[@]}"; do
    corpus="$scratch/corpus/$target"
    findings="$scratch/findings/$target"
    mkdir -p "$corpus" "$findings"
    echo "== fuzz: $target for ${seconds}s"
    # -timeout: one input taking longer than 10 s is a finding; -rss_limit_mb bounds memory.
    if ! "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/" "$corpus" "Fuzz/Seeds/$target"; then
        echo "fuzz: $target FAILED; reproducer(s) in $findings:" >&2
        ls -l "$findings" >&2
        exit 1
    fi
done
echo "== fuzz: no findings"
