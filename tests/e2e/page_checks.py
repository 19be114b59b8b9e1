"""What a page must be for a person, measured in Chromium: it fits the window, it speaks Chinese, it
has the navigation bar, its console is clean, and each confirmation names what will happen.

Latin words are allowed only from ``ALLOWED`` (algorithm and format names, ids and hashes); text in
``code``, ``pre``, ``kbd`` and ``samp`` is exempt, as commands, file names and hashes are not prose.
"""

from __future__ import annotations

import re
from typing import Any

ALLOWED = re.compile(
    r"^(?:SM2|SM3|SM4|SM4-GCM|PBKDF2|PDF|JSON|API|UKey|CA|ggzy|ggzy-bid|GGZY|ID|UTC|URL|HTTP|HTTPS|CSV|ZIP"
    r"|Atom|OCDS|GB/T|[0-9a-fA-F]{8,}|GGZY-\d{4}-\d{6}|PM-\d{4}-\d{4,}|TS-\d{4}-\d{6}|REF-\d{8}-\d{6}|[A-Z]\d{2,}(?:-\d+)?)$"
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-./]*[A-Za-z0-9]|[A-Za-z]")

PROSE = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('code, pre, kbd, samp, script, style, template, dialog:not([open])').forEach(e => e.remove());
  copy.style.position = 'absolute'; copy.style.left = '-99999px';
  document.documentElement.appendChild(copy);
  const text = copy.innerText;
  copy.remove();
  return text;
}"""

FILL_REQUIRED = """form => {
  for (const el of form.elements) {
    if (!el.willValidate || el.checkValidity()) continue;
    if (el.type === 'number') el.value = el.min || '1';
    else if (el.type === 'checkbox') el.checked = true;
    else if (el.tagName === 'SELECT') el.selectedIndex = Math.max(0, el.options.length - 1);
    else if (el.type === 'date') el.value = '2030-01-01';
    else if (el.type === 'datetime-local') el.value = '2030-01-01T09:00';
    else if (el.type !== 'file') el.value = '演示';
  }
}"""

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def latin_words(text: str) -> list[str]:
    """The Latin words in ``text`` that are not allowed on a Chinese page."""
    return sorted({w for w in WORD.findall(text) if not ALLOWED.match(w)})


def page_problems(page: Any, width: int) -> list[str]:
    """What is wrong with the page as shown now at ``width`` px (console errors are collected by
    the caller, which listens for them)."""
    problems = []
    over = page.evaluate(OVERFLOW)
    if over > 0:
        problems.append(f"{over} px wider than the {width} px window")
    if page.query_selector("header nav.main") is None:
        problems.append("no navigation bar")
    if width == 1280:
        words = latin_words(page.evaluate(PROSE))
        if words:
            problems.append(f"Latin words: {' '.join(words[:20])}")
    return problems


def confirmation_problems(page: Any) -> list[str]:
    """Open every confirmation the page has and cancel it: the dialog must show the form's own
    text, in Chinese, and cancelling must leave the page where it was."""
    problems = []
    url = page.url
    forms = page.query_selector_all("form[data-confirm]")
    for index, form in enumerate(forms):
        button = form.query_selector("button[type=submit]:not([disabled]), button:not([type]):not([disabled])")
        text = form.get_attribute("data-confirm") or ""
        if not re.search(r"[\u4e00-\u9fff]", text):
            problems.append(f"confirmation {index} is not a sentence in Chinese: {text!r}")
        if button is None or not button.is_visible():
            continue
        # a form asks for what it needs first (a reason, a date): give it something, so the click
        # reaches the confirmation; cancelling it sends nothing
        form.evaluate(FILL_REQUIRED)
        button.click()
        try:
            dialog = page.wait_for_selector("#confirm-dialog[open]", timeout=3000)
        except Exception:  # Playwright's timeout, reported as the page's problem
            problems.append(f"confirmation {index} ({text[:20]}…) did not open on clicking its button")
            continue
        shown = dialog.inner_text()
        if text not in shown:
            problems.append(f"confirmation {index} shows {shown!r}, not {text!r}")
        page.click("#confirm-dialog button[value=cancel]")
        page.wait_for_selector("#confirm-dialog:not([open])", state="attached", timeout=3000)
        if page.url != url:
            problems.append(f"cancelling confirmation {index} left the page for {page.url}")
    return problems
