#!/usr/bin/env bash
# Install Everscape's desktop integration for the current user: the launcher (.desktop), the icon
# (SVG + PNG sizes in the hicolor theme), the .everscape MIME type (so a double-click opens a
# project) and the AppStream metainfo. Nothing needs root; everything goes under $XDG_DATA_HOME
# (default ~/.local/share). `everscape` itself must be on PATH (pip install the wheel first).
#
# Usage: packaging/install-desktop.sh            (from a checkout)
# Uses the xdg-utils tools when present, else copies the files and refreshes the caches itself.
# EVERSCAPE_NO_XDG=1 forces the copying route.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
app_id="io.github.everscape.Everscape"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
icons="$root/resources/icons"
sizes=(16 24 32 48 64 128 256 512)
use_xdg=1
[[ -n "${EVERSCAPE_NO_XDG:-}" ]] && use_xdg=0
command -v xdg-mime >/dev/null && command -v xdg-icon-resource >/dev/null && command -v xdg-desktop-menu >/dev/null \
  || use_xdg=0

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
for size in "${sizes[@]}"; do cp "$icons/everscape-$size.png" "$staging/$app_id-$size.png"; done

if ((use_xdg)); then
  export XDG_DATA_HOME="$data"
  for size in "${sizes[@]}"; do
    xdg-icon-resource install --mode user --noupdate --novendor --size "$size" "$staging/$app_id-$size.png" "$app_id"
  done
  xdg-icon-resource forceupdate --mode user
  xdg-mime install --mode user --novendor "$here/linux/$app_id.xml"
  xdg-desktop-menu install --mode user --novendor "$here/linux/$app_id.desktop"
else
  for size in "${sizes[@]}"; do
    install -D -m 644 "$staging/$app_id-$size.png" "$data/icons/hicolor/${size}x${size}/apps/$app_id.png"
  done
  install -D -m 644 "$here/linux/$app_id.xml" "$data/mime/packages/$app_id.xml"
  install -D -m 644 "$here/linux/$app_id.desktop" "$data/applications/$app_id.desktop"
  if command -v update-mime-database >/dev/null; then update-mime-database "$data/mime"; fi
  if command -v update-desktop-database >/dev/null; then update-desktop-database "$data/applications"; fi
  if command -v gtk-update-icon-cache >/dev/null; then gtk-update-icon-cache -q -t "$data/icons/hicolor" || true; fi
fi
install -D -m 644 "$icons/everscape.svg" "$data/icons/hicolor/scalable/apps/$app_id.svg"
install -D -m 644 "$here/linux/$app_id.metainfo.xml" "$data/metainfo/$app_id.metainfo.xml"
echo "installed Everscape's launcher, icon, MIME type and metainfo under $data"
