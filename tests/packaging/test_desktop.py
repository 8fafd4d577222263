"""Desktop integration: the launcher, MIME type, icon and AppStream metainfo validate and install."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.everscape.Everscape"
DESKTOP = LINUX / f"{APP_ID}.desktop"
MIME_XML = LINUX / f"{APP_ID}.xml"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICONS = ROOT / "resources" / "icons"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def _run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validates():
    done = _run("desktop-file-validate", str(DESKTOP))
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates():
    done = _run("appstreamcli", "validate", "--no-net", str(METAINFO))
    assert done.returncode == 0, done.stdout + done.stderr


def test_launcher_mime_type_and_metainfo_agree():
    entry = _desktop_entry()
    mime = ET.parse(MIME_XML).getroot().find(f"{MIME_NS}mime-type")
    assert entry["MimeType"].rstrip(";") == mime.get("type")
    assert mime.find(f"{MIME_NS}glob").get("pattern") == "*.everscape"
    assert entry["Exec"] == "everscape %f"  # the CLI opens a project given as its only argument
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == APP_ID == entry["Icon"]
    assert meta.findtext("launchable") == DESKTOP.name
    assert meta.find("provides").findtext("mediatype") == mime.get("type")


def test_icon_pngs_are_the_sizes_they_are_named_and_the_screenshot_is_small():
    sizes = sorted(int(p.stem.rsplit("-", 1)[1]) for p in ICONS.glob("everscape-*.png"))
    assert sizes == [16, 24, 32, 48, 64, 128, 256, 512]
    for size in sizes:
        with Image.open(ICONS / f"everscape-{size}.png") as image:
            assert image.size == (size, size) and image.mode == "RGBA"
    url = ET.parse(METAINFO).getroot().find("screenshots/screenshot/image").text
    shot = ROOT / "resources" / "screenshots" / url.rsplit("/", 1)[1]
    assert shot.is_file() and shot.stat().st_size < 300_000
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width >= 640


@pytest.mark.parametrize("route", ["copy", "xdg"])
def test_install_desktop_puts_everything_under_the_users_data_folder(tmp_path, route):
    if route == "xdg" and shutil.which("xdg-mime") is None:
        pytest.skip("xdg-utils not installed")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share")}
    if route == "copy":
        env["EVERSCAPE_NO_XDG"] = "1"
    done = _run(str(ROOT / "packaging" / "install-desktop.sh"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    share = tmp_path / "share"
    assert (share / "applications" / DESKTOP.name).read_bytes() == DESKTOP.read_bytes()
    assert (share / "mime" / "packages" / MIME_XML.name).is_file()
    assert (share / "metainfo" / METAINFO.name).is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    for size in (16, 48, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    if shutil.which("update-mime-database"):  # the database now maps *.everscape to the type
        assert "application/x-everscape-project:*.everscape" in (share / "mime" / "globs2").read_text()
