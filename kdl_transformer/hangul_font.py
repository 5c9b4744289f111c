"""A real Hangul font for matplotlib, so Korean labels are not drawn as empty boxes.

matplotlib's default DejaVu Sans has no Hangul and draws empty boxes ("Glyph ... missing from
font(s) DejaVu Sans"). `use_hangul_font` registers NanumGothic, which ships inside the pip
package `koreanize-matplotlib` (a dependency of this package; we only read its font files and
never import it, because importing it changes global settings).
"""

import importlib.util
from pathlib import Path

import matplotlib
from matplotlib import font_manager

HANGUL_FONT_FAMILY = "NanumGothic"


def _bundled_font_files():
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    return sorted(folder.glob("*.ttf"))


def use_hangul_font():
    """Make matplotlib draw Hangul: register NanumGothic and put it first.

    Returns the font family name. Raises RuntimeError when no Hangul font can
    be found, rather than letting figures silently show boxes.
    """
    names = {font.name for font in font_manager.fontManager.ttflist}
    if HANGUL_FONT_FAMILY not in names:
        for path in _bundled_font_files():
            font_manager.fontManager.addfont(str(path))
        names = {font.name for font in font_manager.fontManager.ttflist}
    if HANGUL_FONT_FAMILY not in names:
        raise RuntimeError(
            "No Hangul font found: install the package dependency koreanize-matplotlib "
            "(pip install koreanize-matplotlib) or the Debian package fonts-nanum."
        )
    family = [HANGUL_FONT_FAMILY, "DejaVu Sans"]
    if matplotlib.rcParams["font.family"] != family:
        matplotlib.rcParams["font.family"] = family
    matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic has no U+2212 minus sign
    return HANGUL_FONT_FAMILY
