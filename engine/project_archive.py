"""The zip side of project files: what an archive *declares* is checked before anything is inflated.

A zip's central directory states every member's name, uncompressed size and compressed size. A
few KiB of hostile zip can declare gigabytes (a zip bomb: ratios of 1000:1 are easy with deflate),
thousands of members, folders (``images/a/b``, ``../x``) or the same name twice. :func:`checked_members`
refuses all of that from the directory alone; :func:`read_member` then inflates one member, never
past its declared size (zipfile stops there and checks the CRC); :func:`check_image` reads an
image's header (size, format) without decoding its pixels. Every refusal is one line naming the
member.
"""

from __future__ import annotations

import io
import warnings
import zipfile

from engine.budget import memory_budget
from engine.errors import InvalidInput

PROJECT_MEMBER = "project.json"
WORLD_MEMBER = "world.json"
TENSORS_MEMBER = "tensors.safetensors"
IMAGES_FOLDER = "images/"

#: Largest uncompressed size accepted per member (bytes). The images' bound is per image.
MEMBER_LIMITS: dict[str, int] = {
    PROJECT_MEMBER: 1 * 2**20,
    WORLD_MEMBER: 64 * 2**20,
    TENSORS_MEMBER: 2 * 2**30,
    IMAGES_FOLDER: 128 * 2**20,
}
#: At most this many images (a zip's member count is part of what a bomb can inflate).
MAX_IMAGES = 1024
#: Largest image (width x height) a project may carry: 2^27 px is 512 MiB decoded as RGBA.
MAX_IMAGE_PIXELS = 2**27
#: Deflate packs long runs up to ~1030:1; real JSON and images stay far below this ratio.
MAX_RATIO = 200
#: Members small enough that their ratio does not matter (their size bound already does).
RATIO_FREE_BYTES = 2**20


def project_budget() -> int:
    """Bytes one project's members may declare together: half the one memory budget
    (:func:`engine.budget.memory_budget`, ``EVERSCAPE_MEMORY_BUDGET``), at most 4 GiB, since a
    project is opened beside a model and its tiles."""
    return min(4 * 2**30, memory_budget() // 2)


def member_limit(name: str) -> int:
    return MEMBER_LIMITS[IMAGES_FOLDER if name.startswith(IMAGES_FOLDER) else name]


def checked_members(archive: zipfile.ZipFile, check_image_name) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name, refusing from the directory alone anything a project cannot be."""
    infos = archive.infolist()
    if len(infos) > MAX_IMAGES + 4:
        raise InvalidInput(f"it holds {len(infos)} members, more than the {MAX_IMAGES + 4} a project can have")
    members: dict[str, zipfile.ZipInfo] = {}
    budget, total = project_budget(), 0
    for info in infos:
        name = info.filename
        if name == IMAGES_FOLDER:
            continue  # a folder entry some zip tools add
        if name in members:
            raise InvalidInput(f"the member {name!r} appears twice")
        if name.startswith(IMAGES_FOLDER):
            try:
                check_image_name(name[len(IMAGES_FOLDER) :])
            except InvalidInput as error:
                raise InvalidInput(f"the member {name[:120]}: {error}") from None
        elif name not in MEMBER_LIMITS:
            raise InvalidInput(f"the member {name[:80]!r} is not part of a project")
        _check_sizes(info, member_limit(name))
        total += info.file_size
        if total > budget:
            raise InvalidInput(f"its members declare {total} bytes, over the {budget} byte memory budget")
        members[name] = info
    images = sum(1 for name in members if name.startswith(IMAGES_FOLDER))
    if images > MAX_IMAGES:
        raise InvalidInput(f"it holds {images} images, more than the {MAX_IMAGES} allowed")
    return members


def _check_sizes(info: zipfile.ZipInfo, limit: int) -> None:
    name = info.filename
    if info.file_size > limit:
        raise InvalidInput(f"the member {name} inflates to {info.file_size} bytes, over the {limit} byte limit")
    if info.flag_bits & 0x1:
        raise InvalidInput(f"the member {name} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise InvalidInput(f"the member {name} is stored but declares {info.file_size} != {info.compress_size} bytes")
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > RATIO_FREE_BYTES and ratio > MAX_RATIO:
        raise InvalidInput(
            f"the member {name} declares a compression ratio of {ratio:.0f}:1, "
            f"over the {MAX_RATIO}:1 limit (a zip bomb?)"
        )


def read_member(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str) -> bytes:
    """A checked member's bytes: inflated up to its declared size (already within its limit) only."""
    info = members.get(name)
    if info is None:
        raise InvalidInput(f"the member {name} is missing")
    limit = min(member_limit(name), info.file_size)
    with archive.open(info) as handle:
        data = handle.read(limit + 1)  # zipfile stops at the declared size; +1 catches a lying reader
    if len(data) > limit:
        raise InvalidInput(f"the member {name} inflates past the {limit} byte limit")
    return data


def check_image(name: str, data: bytes) -> None:
    """Read ``data``'s image header only: a known format whose pixel count is within the limit."""
    from PIL import Image

    member = IMAGES_FOLDER + name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: the limit below is ours
            with Image.open(io.BytesIO(data)) as image:
                width, height, kind = image.width, image.height, image.format
    except Image.DecompressionBombError:
        raise InvalidInput(f"the member {member} declares over the {MAX_IMAGE_PIXELS} pixel limit") from None
    except Exception as error:  # noqa: BLE001 - Pillow's header parsers raise many types on hostile bytes
        raise InvalidInput(f"the member {member} is not a readable image ({type(error).__name__})") from None
    if width * height > MAX_IMAGE_PIXELS or width <= 0 or height <= 0:
        raise InvalidInput(
            f"the member {member} declares {width}x{height} pixels ({kind}), over the {MAX_IMAGE_PIXELS} pixel limit"
        )
