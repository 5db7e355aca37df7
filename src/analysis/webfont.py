"""Chinese text in the HTML reports on any reader's machine: the CJK font, embedded.

A report is one self-contained HTML file, read on machines the project never sees. Figures
already draw Chinese with the CJK font of the ``mplfonts`` package; the page's own text
(headings, takeaways, tables) is drawn by the reader's browser, which shows empty boxes
where the system has no Chinese font (many Linux servers and containers). So a page that
holds CJK characters carries a subset of that font (Noto Sans CJK SC, SIL Open Font
Licence 1.1; only the characters the page uses, typically 50-200 kB) as an ``@font-face``
limited to CJK code points: Latin text keeps the reader's own fonts, and Chinese is drawn
the same on every machine instead of as boxes where no Chinese font is installed.
Pages without CJK text are unchanged.

Nothing here knows about the report runner.
"""

from __future__ import annotations

import base64
import io
import re

#: The name the embedded subset goes by inside a page (not the original family name, as
#: the font licence asks of modified versions).
FAMILY = "Report CJK"
#: Characters the subset must cover: CJK radicals and punctuation, kana, CJK ideographs,
#: Hangul, compatibility forms and full-width forms (，。：（）￥).
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
#: The embedded font first, limited to CJK code points by its ``unicode-range`` (Latin
#: text keeps the reader's own fonts). Listed after the system fonts instead, Chromium
#: draws boxes for a paragraph that starts with Chinese (it lays it out with the system
#: fallback before the embedded font is ready and keeps that).
_RANGE = "U+2E80-9FFF,U+AC00-D7AF,U+F900-FAFF,U+FE30-FE4F,U+FF00-FFEF"
_STACK = (
    f'"{FAMILY}", system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, '
    '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
_CODE_STACK = f'"{FAMILY}", SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace'


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, sorted ('' when there are none)."""
    return "".join(sorted(set(_CJK.findall(text))))


def font_face_css(characters: str) -> str:
    """CSS embedding the CJK font subset to ``characters`` ('' without characters or font)."""
    from analysis.plots import cjk_font_path

    path = cjk_font_path()
    if not characters or path is None:
        return ""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"  # zlib-compressed; WOFF2 would need the brotli package
    options.layout_features = ["*"]
    options.notdef_outline = True
    font = subset.load_font(path, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    buffer = io.BytesIO()
    subset.save_font(font, buffer, options)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f"@font-face{{font-family:'{FAMILY}';font-style:normal;font-weight:100 900;"
        f"unicode-range:{_RANGE};"
        f"src:url(data:font/woff;base64,{data}) format('woff')}}"
        f":root{{--jp-content-font-family:{_STACK};--jp-ui-font-family:{_STACK};"
        f"--jp-code-font-family:{_CODE_STACK}}}"
        f"body,table,th,td{{font-family:{_STACK}}}"
    )


def embed_cjk_font(page: str) -> str:
    """``page`` (an HTML document) with the CJK font subset it needs before ``</head>``;
    unchanged when it holds no CJK character."""
    css = font_face_css(cjk_characters(page))
    if not css:
        return page
    style = f"<style>{css}</style>"
    head_end = page.find("</head>")
    return page[:head_end] + style + page[head_end:] if head_end >= 0 else style + page
