"""What a page's layout must hold at any width, measured inside the browser.

``LAYOUT_PROBLEMS`` is a JavaScript function for ``page.evaluate``: it returns a list
of readable problems (empty when the page holds). ``set_width`` measures one loaded page
at another width: the pages' layout is CSS alone (no script reads the window's size, no
image has a ``srcset``), so a page widened or narrowed after loading is laid out, and
scrolled, as one loaded at that width. Words are split at white space and
after the path separators the templates may break at (``/ . _ - =``), so a cell that
wraps ``s3://bucket/4/run`` at its slashes is fine, and one that wraps per letter is not.
"""

LAYOUT_PROBLEMS = r"""
() => {
  const problems = [];
  const viewport = window.innerWidth;
  const pageWidth = document.documentElement.scrollWidth;
  const describe = (el) => {
    const text = (el.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 50);
    const classes = el.className ? ` class="${el.className}"` : '';
    return `<${el.tagName.toLowerCase()}${classes}> "${text}"`;
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    // Screen-reader-only text (1 px, clipped) is not laid out for the eye.
    return box.width > 1 && box.height > 1 && style.visibility !== 'hidden';
  };
  if (pageWidth > viewport) {
    // Name the innermost elements that reach past the window's right edge.
    const past = [...document.body.querySelectorAll('*')].filter((el) => shown(el)
      && el.getBoundingClientRect().right > viewport + 1
      && ![...el.children].some((child) => child.getBoundingClientRect().right > viewport + 1));
    problems.push(`page is ${pageWidth}px wide in a ${viewport}px window: `
      + past.slice(0, 3).map(describe).join(', '));
  }
  const scrolls = (style) => ['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX);
  const words = (text) => text.split(/\s+/).flatMap((token) => token.split(/(?<=[\/._=-])/))
    .filter(Boolean);
  const canvas = document.createElement('canvas').getContext('2d');
  const longestWord = (el) => {
    let widest = 0, word = '';
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest('pre, .copy-buffer') || !shown(parent)) continue;
      const style = getComputedStyle(parent);
      canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      for (const candidate of words(node.data)) {
        const width = canvas.measureText(candidate).width;
        if (width > widest) { widest = width; word = candidate; }
      }
    }
    return [widest, word];
  };

  // Every block that holds text: it is as wide as its longest word, and its text stays inside.
  const boxes = 'td, th, dd, dt, li, p, h1, h2, h3, label, figcaption, .tag, .alias, .metric, '
    + '.badge, .caption, .breadcrumbs, .artifact-crumbs, .snippet-label, .site-header > *, '
    + '.site-nav a, .tabs a, button';
  for (const el of document.querySelectorAll(boxes)) {
    const style = getComputedStyle(el);
    if (style.display === 'inline' || !shown(el) || el.closest('pre, .copy-buffer')) continue;
    const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const [need, word] = longestWord(el);
    if (need > inner + 2) {
      problems.push(`${describe(el)} is ${Math.round(inner)}px wide; `
        + `"${word}" needs ${Math.round(need)}px`);
    } else if (!scrolls(style) && el.scrollWidth > el.clientWidth + 2
               && !el.closest('.table-container, .scroll-x, .table-scroll')) {
      problems.push(`${describe(el)} spills out: ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  }

  // Nothing overlaps the header: its parts stay inside it, and the page starts below it.
  const header = document.querySelector('.site-header');
  if (header) {
    const bar = header.getBoundingClientRect();
    const parts = [...header.children].filter(shown).map((el) => [el, el.getBoundingClientRect()]);
    for (const [el, box] of parts) {
      if (box.bottom > bar.bottom + 1 || box.right > bar.right + 1 || box.left < bar.left - 1) {
        problems.push(`${describe(el)} sticks out of the header`);
      }
    }
    for (let i = 0; i < parts.length; i++) {
      for (let j = i + 1; j < parts.length; j++) {
        const [a, boxA] = parts[i], [b, boxB] = parts[j];
        const overlap = Math.min(boxA.right, boxB.right) - Math.max(boxA.left, boxB.left) > 1
          && Math.min(boxA.bottom, boxB.bottom) - Math.max(boxA.top, boxB.top) > 1;
        if (overlap) problems.push(`${describe(a)} overlaps ${describe(b)} in the header`);
      }
    }
    for (const el of document.querySelectorAll('body > :not(.site-header)')) {
      if (shown(el) && el.getBoundingClientRect().top < bar.bottom - 1) {
        problems.push(`${describe(el)} overlaps the header`);
      }
    }
  }

  // A Copy button never covers the text it sits beside.
  for (const button of document.querySelectorAll('button.copy')) {
    if (!shown(button)) continue;
    const box = button.getBoundingClientRect();
    for (const code of button.parentElement.querySelectorAll('code, pre')) {
      for (const line of code.getClientRects()) {
        const overlap = Math.min(box.right, line.right) - Math.max(box.left, line.left) > 1
          && Math.min(box.bottom, line.bottom) - Math.max(box.top, line.top) > 1;
        if (overlap) { problems.push(`the Copy button covers ${describe(code)}`); break; }
      }
    }
  }
  return problems;
}
"""

HEADER_ROWS = r"""
() => {
  const header = document.querySelector('.site-header');
  const top = (selector) => header.querySelector(selector).getBoundingClientRect().top;
  return {brand: top('.brand'), logout: top('.logout button')};
}
"""

# Resolves once every image of the page has loaded (or failed) and the fonts are in:
# the layout is then final, whatever the user scrolls to. Lazy images are asked for at
# once rather than when scrolled near. This replaces Playwright's "networkidle" (no
# request for 500 ms), which waited half a second on every page whatever it held.
# Resolves to the sources still loading after ``timeoutMs``, an empty list when settled.
SETTLED = r"""
(timeoutMs) => {
  const images = [...document.images].filter((img) => img.getAttribute('src'));
  for (const img of images) {
    if (img.loading === 'lazy') img.loading = 'eager';
  }
  const ready = Promise.all([
    ...images.map((img) => img.decode().catch(() => null)),
    document.fonts.ready,
  ]);
  const late = new Promise((resolve) => setTimeout(resolve, timeoutMs));
  return Promise.race([ready, late]).then(
    () => images.filter((img) => !img.complete).map((img) => img.src));
}
"""
SETTLE_TIMEOUT_MS = 30_000


def settle(page) -> None:
    """Wait until ``page``'s images and fonts are loaded, so its layout is final."""
    still_loading = page.evaluate(SETTLED, SETTLE_TIMEOUT_MS)
    assert still_loading == [], f"{page.url}: images still loading: {still_loading}"


HEIGHT = 900

# Puts a page opened at an anchor back where loading it put it: a new window width
# moves the anchor's heading.
SCROLL_TO_ANCHOR = r"""
() => {
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) target.scrollIntoView();
}
"""


def set_width(page, width: int) -> None:
    """``page``'s window at ``width`` (``HEIGHT`` tall), laid out and scrolled as if the
    page had loaded at that width, its images and fonts in."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.evaluate(SCROLL_TO_ANCHOR)
    settle(page)
