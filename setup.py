"""Package layout that ``pyproject.toml`` cannot express: the root ``checkpoints/`` and ``resources/``
folders become the package data of ``everscape_data`` (see packaging/everscape_data/__init__.py).

Everything else (metadata, dependencies, entry points) lives in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

DATA = "everscape_data"

setup(
    packages=[*find_packages(include=["engine*", "app*"]), DATA, f"{DATA}.checkpoints", f"{DATA}.resources"],
    package_dir={DATA: f"packaging/{DATA}", f"{DATA}.checkpoints": "checkpoints", f"{DATA}.resources": "resources"},
    package_data={
        f"{DATA}.checkpoints": ["*.safetensors", "*.json", "critics/*.safetensors"],
        f"{DATA}.resources": ["**/*.png", "**/*.jpg", "**/*.svg", "**/*.xml", "**/*.desktop"],
    },
)
