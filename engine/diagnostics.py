"""The first-run report behind ``everscape doctor`` and Help ▸ About: what is installed and what it will use.

Answers the questions a first run raises: which versions, which torch build (CUDA, ROCm or CPU
only), which device renders and *why* (no CUDA build, no driver, MPS), how much memory is free,
where settings, user data and the shipped models are, and how to get GPU support. Everything is
read, nothing is changed; PySide6 is looked up through package metadata so the engine never imports
Qt. The report is a plain dict (JSON-ready) of sections; :func:`format_report` renders it as text.
"""

from __future__ import annotations

import ctypes.util
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import psutil
import torch

from engine.checkpoints import SHIPPED_DIR, list_checkpoints, user_dir
from engine.folders import cache_dir, config_dir, data_dir
from engine.render import choose_device
from engine.shipped_data import data_origin

GIB = 2**30
TORCH_INSTALL_HELP = "https://pytorch.org/get-started/locally/"


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    return {
        "everscape": _version("everscape") or "not installed (running from a source checkout)",
        "python": f"{platform.python_version()} ({sys.executable})",
        "torch": torch.__version__,
        "PySide6": _version("PySide6-Essentials") or _version("PySide6"),
        "platform": platform.platform(),
    }


def torch_build() -> str:
    """``"CUDA 12.8"``, ``"ROCm 6.4"`` or ``"CPU only"`` (plus MPS when the build has it)."""
    if torch.version.hip:
        return f"ROCm {torch.version.hip}"
    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    return "CPU only" + (" (with MPS)" if torch.backends.mps.is_built() else "")


def device_choice() -> dict[str, str]:
    """The device ``--device auto`` picks, and why it is not a faster one."""
    device = choose_device()
    gpu = "ROCm" if torch.version.hip else "CUDA"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        reason = f"{gpu} build and a usable GPU: {name} ({torch.cuda.device_count()} visible)"
    elif device.type == "mps":
        reason = "Apple GPU through Metal (MPS)"
    elif torch.version.cuda or torch.version.hip:
        reason = _why_no_gpu(gpu)
    elif torch.backends.mps.is_built():
        reason = "this torch has MPS but it is unavailable (needs macOS 12.3+ on an Apple GPU)"
    else:
        reason = "this torch is a CPU-only build"
    return {"device": str(device), "reason": reason}


def _why_no_gpu(gpu: str) -> str:
    library = "amdhip64" if gpu == "ROCm" else "cuda"
    if ctypes.util.find_library(library) is None:
        driver = "AMD ROCm runtime" if gpu == "ROCm" else "NVIDIA driver"
        return f"this torch is a {gpu} build but no {driver} was found (lib{library} is missing)"
    return f"this torch is a {gpu} build and a driver is installed, but it reports no usable GPU"


def memory() -> dict[str, float]:
    ram = psutil.virtual_memory()
    report = {"ram_free_gib": ram.available / GIB, "ram_total_gib": ram.total / GIB}
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        report |= {"gpu_free_gib": free / GIB, "gpu_total_gib": total / GIB}
    return report


def folders() -> dict[str, str]:
    return {
        "config": str(config_dir()),
        "data": str(data_dir()),
        "user checkpoints": str(user_dir()),
        "cache": str(cache_dir()),
    }


def models() -> dict[str, Any]:
    return {"shipped": str(SHIPPED_DIR), "found_in": data_origin(), "installed": list_checkpoints()}


def gpu_help(device: str) -> str:
    """The next step towards a GPU, depending on what is missing (see :func:`device_choice`)."""
    if device != "cpu":
        return "a GPU is in use; nothing to do"
    if torch.version.cuda or torch.version.hip:
        vendor = "AMD ROCm" if torch.version.hip else "NVIDIA"
        return (
            f"this torch can use a GPU: install or update the {vendor} driver (check with "
            f"{'rocm-smi' if torch.version.hip else 'nvidia-smi'}) and that CUDA_VISIBLE_DEVICES does not hide it"
        )
    if sys.platform == "darwin":
        return "on an Apple-silicon Mac, install the standard macOS torch wheel (it includes MPS)"
    return (
        "install a CUDA (NVIDIA) or ROCm (AMD) build of torch into this same environment, e.g. "
        "`pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cuXYZ` with the "
        f"CUDA version your driver supports (see {TORCH_INSTALL_HELP}); then rerun `everscape doctor`"
    )


def system_report() -> dict[str, Any]:
    """Everything about this installation, as JSON-ready sections."""
    choice = device_choice()
    return {
        "versions": versions(),
        "torch_build": torch_build(),
        "device": choice,
        "memory": memory(),
        "folders": folders(),
        "models": models(),
        "gpu_help": gpu_help(choice["device"]),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text lines, the same in the terminal and in the About dialog."""
    ver, mem = report["versions"], report["memory"]
    ram = f"{mem['ram_free_gib']:.1f} of {mem['ram_total_gib']:.1f} GiB RAM free"
    if "gpu_free_gib" in mem:
        ram += f"; {mem['gpu_free_gib']:.1f} of {mem['gpu_total_gib']:.1f} GiB GPU memory free"
    model_list = ", ".join(report["models"]["installed"]) or "none"
    rows = [
        ("Everscape", ver["everscape"]),
        ("Python", ver["python"]),
        ("torch", f"{ver['torch']} ({report['torch_build']})"),
        ("PySide6", ver["PySide6"] or "not installed (no desktop app; the CLI works)"),
        ("Platform", ver["platform"]),
        ("Device", f"{report['device']['device']}: {report['device']['reason']}"),
        ("Memory", ram),
        *((f"Folder ({name})", path) for name, path in report["folders"].items()),
        ("Shipped models", f"{report['models']['shipped']} ({report['models']['found_in']})"),
        ("Models", model_list),
        ("GPU support", report["gpu_help"]),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in rows)
