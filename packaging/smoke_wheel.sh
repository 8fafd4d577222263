#!/usr/bin/env bash
# Build the sdist and wheel, install the wheel into a fresh venv OUTSIDE the source tree and check that
# it works there on its own: `everscape models` finds the shipped models (package data), a 256x256
# render and an offscreen `gui --screenshot` succeed, from a temporary working directory.
#
# Usage: packaging/smoke_wheel.sh [--no-isolation]   (run with the project's venv active)
# The fresh venv gets only the wheel (--no-deps); the heavy dependencies (torch, PySide6, ...) are
# borrowed from the active interpreter's site-packages through a .pth file, which keeps the smoke
# under a minute instead of reinstalling torch. The active venv's own `engine`/`app` (an editable
# install or a checkout) stay invisible: .pth files inside the borrowed folder are not executed,
# and the script checks that every module comes from the wheel.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/everscape-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
export QT_QPA_PLATFORM=offscreen EVERSCAPE_CONFIG_DIR="$work/config" EVERSCAPE_CHECKPOINTS="$work/user-checkpoints"
started=$SECONDS

echo "== build sdist + wheel"
python -m build "$@" --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
wheel=("$work"/dist/everscape-*.whl)
python - "${wheel[0]}" <<'PY'
import sys, zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = ["engine/cli.py", "app/main.py", "everscape_data/checkpoints/infinitygan-bluemarble.safetensors",
          "everscape_data/checkpoints/infinitygan-bluemarble.json",
          "everscape_data/checkpoints/critics/infinitygan-bluemarble.safetensors",
          "everscape_data/resources/icons/everscape.svg"]
missing = [name for name in needed if name not in names]
assert not missing, f"the wheel lacks {missing}"
PY

echo "== fresh venv in $work/venv"
borrowed="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
python -m venv --without-pip "$work/venv"  # the active pip installs into it (--python): no ensurepip
venv_site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$borrowed" >"$venv_site/zz-borrowed-dependencies.pth"  # after the venv's own site-packages
python -m pip --python "$work/venv/bin/python" install -q --no-deps --no-index "${wheel[0]}"

mkdir "$work/cwd" && cd "$work/cwd"
bin="$work/venv/bin"
echo "== modules come from the wheel"
"$bin/python" - "$work/venv" <<'PY'
import sys
from pathlib import Path

import app, engine, everscape_data
from engine.checkpoints import SHIPPED_DIR

venv = Path(sys.argv[1]).resolve()
for module in (app, engine, everscape_data):
    assert venv in Path(module.__file__).resolve().parents, f"{module.__name__} from {module.__file__}"
assert venv in SHIPPED_DIR.resolve().parents, SHIPPED_DIR
print("ok:", SHIPPED_DIR)
PY

echo "== everscape models"
"$bin/everscape" models | tee "$work/models.txt"
grep -q "infinitygan-bluemarble: infinitygan" "$work/models.txt"

echo "== everscape doctor"
"$bin/everscape" doctor | tee "$work/doctor.txt"
grep -q "^Shipped models: .*(installed package everscape_data)$" "$work/doctor.txt"

echo "== everscape render 256x256"
"$bin/everscape" render --model infinitygan-bluemarble --rect 0,0,256,256 --out "$work/cwd/render.png" --device cpu --quiet
"$bin/python" -c "from PIL import Image; import sys; im = Image.open(sys.argv[1]); assert im.size == (256, 256), im.size" \
  "$work/cwd/render.png"

echo "== everscape gui --screenshot"
"$bin/everscape" gui --screenshot "$work/cwd/shot.png" --size 320x240
"$bin/python" -c "from PIL import Image; import sys; im = Image.open(sys.argv[1]); assert im.size[0] >= 320, im.size" \
  "$work/cwd/shot.png"

echo "== wheel smoke passed in $((SECONDS - started)) s"
