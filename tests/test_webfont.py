"""Chinese text in the HTML pages renders without a Chinese system font: the subset is embedded."""

import base64
import io
import re

from fontTools.ttLib import TTFont

from analysis.webfont import FAMILY, cjk_characters, embed_cjk_font


def _embedded_font(page: str) -> TTFont:
    data = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    return TTFont(io.BytesIO(base64.b64decode(data)))


def test_a_chinese_page_carries_the_glyphs_it_uses_and_only_those():
    page = "<html><head><title>t</title></head><body>上海：重要价值客户 ￥1.2万</body></html>"
    assert cjk_characters(page) == "".join(sorted(set("上海：重要价值客户￥万")))
    out = embed_cjk_font(page)
    assert out.index(f"font-family:'{FAMILY}'") < out.index("</head>")
    # first in every stack but only for CJK code points: Latin keeps the reader's fonts, and
    # a paragraph starting with Chinese is not laid out with a fallback before the font loads
    assert "unicode-range:U+2E80-9FFF" in out and f'font-family:"{FAMILY}", system-ui' in out
    assert out.endswith("<body>上海：重要价值客户 ￥1.2万</body></html>")  # the text is untouched
    font = _embedded_font(out)
    cmap = font.getBestCmap()
    assert all(ord(c) in cmap for c in "上海重要价值客户：￥万")
    assert ord("北") not in cmap  # a subset: characters the page does not use are left out
    assert len(out) - len(page) < 60_000  # a few kB for a short page, not the 16 MB font


def test_a_page_without_cjk_text_is_unchanged():
    page = "<html><head></head><body>Champions bring 57% of revenue (£462,622)</body></html>"
    assert embed_cjk_font(page) == page
