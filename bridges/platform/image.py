"""Opening the process image and the piCtory config with revpimodio2, with clear errors.

revpimodio2 silently misbehaves on a short image file and raises bare KeyErrors on a
config missing keys; an operator needs one line naming the file and the problem instead.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import revpimodio2

from bridges.platform.errors import ProcessImageError

__all__ = ["create_image_file", "open_process_image"]

IMAGE_FILE_SIZE = 4096  # the size of the real piControl process image


def create_image_file(path: Path) -> Path:
    """Create (or reset to zeros) a process-image file for running without hardware."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(IMAGE_FILE_SIZE))
    return path


def _check_config(configrsc: Path) -> int:
    """Validate what revpimodio2 needs; return the image length the config addresses."""
    try:
        text = configrsc.read_text()
    except FileNotFoundError:
        raise ProcessImageError(f"config {configrsc}: file not found") from None
    except OSError as exc:
        raise ProcessImageError(f"config {configrsc}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ProcessImageError(f"config {configrsc}: not text (is it a piCtory file?)") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ProcessImageError(f"config {configrsc}: not valid piCtory JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ProcessImageError(f"config {configrsc}: expected a JSON object")
    missing = [key for key in ("App", "Summary", "Devices") if key not in config]
    if missing:
        raise ProcessImageError(f"config {configrsc}: missing key(s) {', '.join(missing)}")
    required = ("type", "productType", "position", "offset", "name", "inp", "out", "mem")
    length = 0
    for index, device in enumerate(config["Devices"]):
        absent = [key for key in required if not isinstance(device, dict) or key not in device]
        if absent:
            raise ProcessImageError(
                f"config {configrsc}: device #{index} lacks {', '.join(absent)}"
            )
        if not isinstance(device["offset"], int):
            raise ProcessImageError(
                f"config {configrsc}: device {device['name']!r} offset must be a JSON integer"
            )
        length = max(length, device["offset"] + _device_extent(configrsc, device))
    return length


def _device_extent(configrsc: Path, device: dict[str, Any]) -> int:
    """Bytes from the device's offset to the end of its last IO."""
    extent = 0
    for group in ("inp", "out", "mem"):
        for entry in device[group].values():
            try:
                bits, address = int(entry[2]), int(entry[3])
                bit_address = int(entry[7]) if len(entry) > 7 and entry[7] != "" else 0
            except (TypeError, ValueError, IndexError):
                raise ProcessImageError(
                    f"config {configrsc}: device {device['name']!r} has a malformed IO {entry!r}"
                ) from None
            extent = max(extent, address + max(1, bits // 8) + bit_address // 8)
    return extent


def _check_image(procimg: Path) -> os.stat_result:
    try:
        info = procimg.stat()
    except FileNotFoundError:
        raise ProcessImageError(
            f"process image {procimg}: not found (on hardware, is piControl loaded?)"
        ) from None
    except OSError as exc:
        raise ProcessImageError(f"process image {procimg}: {exc.strerror}") from None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        raise ProcessImageError(f"process image {procimg}: not a file or character device")
    if not os.access(procimg, os.R_OK | os.W_OK):
        raise ProcessImageError(f"process image {procimg}: not readable and writable")
    return info


def open_process_image(procimg: Path, configrsc: Path, *, simulator: bool = False) -> Any:
    """Open ``procimg`` with ``configrsc`` through revpimodio2 (shared_procimg, no autorefresh).

    ``simulator=True`` opens the plant's side: inputs become writable, outputs read-only.
    Raises ProcessImageError with a one-line reason for anything unusable.
    """
    needed = _check_config(configrsc)
    info = _check_image(procimg)
    if stat.S_ISREG(info.st_mode) and info.st_size < needed:
        raise ProcessImageError(
            f"process image {procimg}: {info.st_size} bytes, but config.rsc needs {needed}"
        )
    try:
        with warnings.catch_warnings():
            # revpimodio2 reports config problems as warnings; here they are errors.
            warnings.simplefilter("error")
            rpi = revpimodio2.RevPiModIO(
                procimg=str(procimg),
                configrsc=str(configrsc),
                simulator=simulator,
                shared_procimg=True,
                debug=False,
            )
    except (Warning, RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ProcessImageError(f"config {configrsc}: revpimodio2 refused it ({exc})") from None
    return rpi
