"""User-visible text in the user's language: `_("English text")` returns its translation (English by default).

Every heading, column header, caption, note, hint and error message goes through `_()`; numbers, symbols and
JSON keys never do. Interpolate after translating: `_("{n} samples").format(n=n)`, never `_(f"...")`.
Text kept in a registry or built at import time (help lines, derivation steps, option help) is marked with
`N_()`, which only marks it for extraction, and translated where it is shown: `_(entry.help)`. Text that JSON
carries too (a summary, a note) is a `Msg`: the English text as a str, translated where shown by `_(msg)`.

The catalogues are gettext .po files shipped in the package (bpcalc/locale/<lang>/LC_MESSAGES/bpcalc.po), read
by a small parser the first time a language other than English is chosen: no compiled .mo to keep in step, and
nothing read at all in English. The language comes from `--lang`, else from the environment in gettext's order
(LANGUAGE, LC_ALL, LC_MESSAGES, LANG: the first one set decides)."""

from __future__ import annotations

import os

DOMAIN = "bpcalc"
LANGUAGES = ("en", "ko")  # English is the source language: it has no catalogue
ENV_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_language = "en"
_catalog: dict[str, str] = {}
_loaded: dict[str, dict[str, str]] = {}


def _(message: str) -> str:
    """The message in the current language (the message itself when it has no translation)."""
    if not _catalog:
        return message
    if isinstance(message, Msg):
        return _catalog.get(message.template, message.template).format(
            **{k: _(v) if isinstance(v, Msg) else v for k, v in message.values.items()})
    return _catalog.get(message, message)


class Msg(str):
    """Text that is data as well as a message (a summary or a note that JSON carries): the English text itself,
    everywhere a str goes (JSON, comparisons), and translated where it is shown, `_(msg)`, from its template.

        Msg("the mean over {n} samples", n=4)  # == "the mean over 4 samples"; _() of it: in the language chosen
    """

    template: str
    values: dict

    def __new__(cls, template: str, **values) -> Msg:
        text = template.format(**values) if values else template
        obj = super().__new__(cls, text)
        obj.template, obj.values = template, values
        return obj


def N_(message: str) -> str:  # noqa: N802 (gettext's name)
    """Mark a message for translation without translating it (it is translated where it is shown)."""
    return message


def language() -> str:
    """The current language code ("en" unless set)."""
    return _language


def normalize(value: str) -> str:
    """A locale name as a language code: "ko_KR.UTF-8" -> "ko", "C" and "POSIX" -> "en"."""
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return "en" if code in ("c", "posix", "") else code


def set_language(code: str) -> None:
    """Select the language of everything printed from now on (a code or a locale name such as ko_KR.UTF-8).
    Raises ValueError naming the languages there are when there is no such language."""
    global _language, _catalog
    lang = normalize(code)
    if lang not in LANGUAGES:
        raise ValueError(_("unknown language {code!r}; choose one of: {choices}").format(
            code=code, choices=", ".join(LANGUAGES)))
    _catalog = {} if lang == "en" else catalog(lang)
    _language = lang


def from_environment(environ: dict[str, str] | None = None) -> str:
    """The language the environment asks for, as gettext reads it: the first of LANGUAGE (a colon-separated list
    of preferences), LC_ALL, LC_MESSAGES and LANG that is set decides; English when it names none bpcalc has."""
    env = os.environ if environ is None else environ
    for var in ENV_VARS:
        value = env.get(var)
        if value:
            for item in value.split(":"):
                if normalize(item) in LANGUAGES:
                    return normalize(item)
            return "en"
    return "en"


def requested(args: list[str]) -> str | None:
    """The language `--lang CODE` (or `--lang=CODE`) asks for among command-line arguments, if one it knows."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = args[i + 1] if arg == "--lang" and i + 1 < len(args) else arg[7:] if arg.startswith("--lang=") \
            else None
        if value is not None and normalize(value) in LANGUAGES:
            return normalize(value)
    return None


def catalog_path(lang: str) -> str:
    """The .po file of a language, inside the package."""
    return os.path.join(os.path.dirname(__file__), "locale", lang, "LC_MESSAGES", DOMAIN + ".po")


def catalog(lang: str) -> dict[str, str]:
    """msgid -> msgstr of a language's catalogue (untranslated and fuzzy entries left out, as msgfmt does)."""
    if lang not in _loaded:
        with open(catalog_path(lang), encoding="utf-8") as fh:
            _loaded[lang] = {k: v for k, (v, fuzzy) in parse_po(fh.read()).items() if v and not fuzzy and k}
    return _loaded[lang]


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(s: str) -> str:
    """A .po string literal ("..." with C escapes) as its text."""
    s = s.strip()
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError(f"not a quoted string: {s}")
    body = s[1:-1]
    if "\\" not in body:
        return body
    import re

    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def parse_po(text: str) -> dict[str, tuple[str, bool]]:
    """The entries of a .po file: msgid -> (msgstr, fuzzy). Obsolete (#~) entries and the comments are skipped;
    plural forms keep msgstr[0] (Korean has one form)."""
    entries: dict[str, tuple[str, bool]] = {}
    msgid: str | None = None
    msgstr: str | None = None
    field = None
    fuzzy = next_fuzzy = False

    def flush() -> None:
        if msgid is not None:
            entries[msgid] = (msgstr or "", fuzzy)

    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                next_fuzzy = True
            continue
        if line.startswith('"'):
            if field == "msgid":
                msgid = (msgid or "") + _unquote(line)
            elif field == "msgstr":
                msgstr = (msgstr or "") + _unquote(line)
            continue
        keyword, _sep, rest = line.partition(" ")
        if keyword == "msgid":
            flush()
            msgid, msgstr, field, fuzzy, next_fuzzy = _unquote(rest), None, "msgid", next_fuzzy, False
        elif keyword in ("msgstr", "msgstr[0]"):
            msgstr, field = _unquote(rest), "msgstr"
        else:  # msgctxt, msgid_plural, msgstr[n>0]: not used by bpcalc
            field = None
    flush()
    return entries
