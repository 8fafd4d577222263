"""The app tests' fixtures (private settings folder, scripted prompts, windows on a fake model)."""

from tests.app.conftest import make_canvas, open_window, private_config, scripted_prompts  # noqa: F401
