#!/usr/bin/env bash
# Runs each fuzz target for N seconds (default 600), one at a time, one process each
# (the machine's cores are shared). Seeds from fuzz/seeds/<target>/ are copied into the
# (gitignored) corpus first; crashes land in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh            # every target, 600 s each
#   fuzz/run.sh 60 npy npz # these targets, 60 s each
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and nightly features; on a stable
# toolchain RUSTC_BOOTSTRAP=1 enables them (set below).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
    echo "== $t: ${secs}s"
    # One worker (-fork=1) that keeps going after a crash, OOM or hang, so a run lasts its
    # full time and collects every distinct crash in artifacts/; 2 GB RSS limit; 10 s per
    # input; inputs up to 64 KiB (the seeds are smaller).
    cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -fork=1 -ignore_crashes=1 \
        -ignore_ooms=1 -ignore_timeouts=1 -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        > "artifacts/fuzz-$t.log" 2>&1 || true
    grep -E "^#[0-9]+: cov" "artifacts/fuzz-$t.log" | tail -1
    grep -hE "^(SUMMARY|==[0-9]+== ?ERROR|thread .* panicked)" "artifacts/fuzz-$t.log" | sort | uniq -c || true
    ls "artifacts/$t" | grep -v "^fuzz-" || true
done
