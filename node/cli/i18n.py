"""Translations of the ``kura`` command's messages (gettext domain ``kura``).

The language follows the locale, as gettext reads it: ``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES`` and ``LANG``, so ``LANG=ja_JP.UTF-8 kura ...``
prints Japanese. Untranslated messages fall back to English.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kura"

_translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, fallback=True)


def _(message: str) -> str:
    """Translate ``message`` into the locale's language."""
    return _translation.gettext(message)


def reload() -> None:
    """Re-read the locale from the environment (tests change it)."""
    global _translation
    _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, fallback=True)
