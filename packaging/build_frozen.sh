#!/usr/bin/env bash
# Build the one-folder frozen app with PyInstaller (packaging/everscape.spec) into dist/everscape/ and
# smoke-run it: `everscape models` and an offscreen `gui --screenshot`. Prints the folder size and
# the start-up times that packaging/README.md records. CPU heavy (minutes): run it under `nice`.
#
# Usage: nice packaging/build_frozen.sh     (with the venv whose torch you want to ship active;
#        a CPU torch gives the portable build, a CUDA torch the GPU build)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
python -m PyInstaller --noconfirm --clean --log-level WARN \
  --workpath build/pyinstaller --distpath dist packaging/everscape.spec
bundle="$repo/dist/everscape"
work="$(mktemp -d "${TMPDIR:-/tmp}/everscape-frozen.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"  # nothing from the checkout may be found by accident
unset PYTHONPATH
export QT_QPA_PLATFORM=offscreen EVERSCAPE_CONFIG_DIR="$work/config" EVERSCAPE_CHECKPOINTS="$work/user-checkpoints"

started=$(date +%s.%N)
"$bundle/everscape" --help >/dev/null
help_s=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")

"$bundle/everscape" models | tee models.txt
grep -q "infinitygan-bluemarble: infinitygan" models.txt
"$bundle/everscape" doctor | grep "Shipped models"

started=$(date +%s.%N)
"$bundle/everscape" gui --screenshot "$work/frozen.png" --size 640x400
shot_s=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
test -s "$work/frozen.png"

echo "frozen build: $(du -sh "$bundle" | cut -f1) in $bundle"
echo "start (everscape --help): ${help_s} s; gui --screenshot 640x400 incl. rendering: ${shot_s} s"
