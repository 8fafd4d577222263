"""The start-up window renders the default world (offscreen)."""

from app.main import array_to_qimage, build_placeholder


def test_placeholder_window_shows_a_render(qtbot):
    window = build_placeholder("reference:tiny", 3)
    qtbot.addWidget(window)
    window.show()
    image = window.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 17)}
    assert len(colours) > 20


def test_array_to_qimage_owns_its_pixels():
    import numpy as np

    array = np.zeros((4, 5, 3), dtype=np.uint8)
    array[1, 2] = (10, 20, 30)
    image = array_to_qimage(array)
    del array
    assert (image.pixelColor(2, 1).red(), image.pixelColor(2, 1).green(), image.pixelColor(2, 1).blue()) == (10, 20, 30)
