"""The Content-Security-Policy of the site's HTML pages: the SPA, the API docs, the admin.

Each page may load this site's own files and nothing else: no inline script or style
unless the page names it by hash, no plugin, no foreign form target, no framing.
"""

import base64
import hashlib
import re

PAGE_CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'{scripts}",
    "style-src 'self'{styles}",
    # `data:` for the empty favicon of the SPA and the icons Swagger UI draws inline.
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
# A page's inline scripts and styles: the tag, its attributes, its text.
INLINE = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def page_csp(*, scripts: tuple[str, ...] = (), styles: tuple[str, ...] = ()) -> str:
    """The policy of a page, allowing the inline `scripts` and `styles` given as source lists."""
    return "; ".join(PAGE_CSP_DIRECTIVES).format(
        scripts="".join(f" {source}" for source in scripts),
        styles="".join(f" {source}" for source in styles),
    )


PAGE_CSP = page_csp()


def _source_hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def page_csp_for(html: str) -> str:
    """The policy of a page rendered by a template not ours: its own inline scripts and styles,
    and only those, allowed by hash (CSP Level 2).
    """
    scripts, styles = [], []
    for tag, attributes, text in INLINE.findall(html):
        if tag.lower() == "style":
            styles.append(_source_hash(text))
        elif "src=" not in (attributes or "").lower():
            scripts.append(_source_hash(text))
    return page_csp(scripts=tuple(dict.fromkeys(scripts)), styles=tuple(dict.fromkeys(styles)))
