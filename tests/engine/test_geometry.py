import pytest

from engine.errors import InvalidInput
from engine.geometry import Lattice, Rect, aligned_cover, ceil_div


def test_parse_and_bounds():
    r = Rect.parse("-500,1000000000,640,360")
    assert (r.x, r.y, r.w, r.h) == (-500, 10**9, 640, 360)
    assert r.right == 140 and r.bottom == 10**9 + 360
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "0,0,5,-1", "1.5,0,3,3"):
        with pytest.raises(InvalidInput):
            Rect.parse(bad)


def test_huge_coordinates_stay_exact():
    x = 10**12 + 1
    r = Rect(x, -x, 3, 3)
    assert aligned_cover(r, 64).x == (x // 64) * 64
    assert ceil_div(-(10**12) - 1, 7) == -((10**12 + 1) // 7)


def test_tiles_cover_exactly():
    r = Rect(-5, 7, 100, 33)
    tiles = list(r.tiles(32, 16))
    assert sum(t.w * t.h for t in tiles) == r.w * r.h
    assert all(r.contains(t) for t in tiles)


def test_aligned_cover_negative():
    assert aligned_cover(Rect(-1, -1, 2, 2), 64) == Rect(-64, -64, 128, 128)


def test_footprint_and_support_are_inverse_bounds():
    lat = Lattice(stride=16, margin=2)
    rect = Rect(-17, 33, 40, 10)
    cells = lat.footprint(rect)
    assert cells == Rect(-2 - 2, 2 - 2, 4 + 4, 1 + 4)
    assert lat.support(cells).contains(rect)
