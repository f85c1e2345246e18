"""Language and theme: chosen in the header, remembered in the browser (localStorage `tune-studio-prefs`).

Each language is a page of the one Blocks app (the default language at `/`, the other at `/<code>`),
so switching language is a client-side navigation to the other page: nothing is rebuilt per visit.
On load a page applies the remembered theme and, if the remembered language is another page's,
goes there. A `?lang=xx` in the address is an explicit choice and is remembered too.
"""

from __future__ import annotations

import json

KEY = "tune-studio-prefs"


def _root_js() -> str:
    return "((window.gradio_config && window.gradio_config.root) || location.origin).replace(/\\/$/, '')"


def load_js(lang: str, pages: dict[str, str]) -> str:
    """Runs when the page `lang` loads; `pages` maps language -> page path ("" for the root)."""
    return f"""
() => {{
  const KEY = {json.dumps(KEY)}, PAGES = {json.dumps(pages)}, LANG = {json.dumps(lang)};
  let p = {{}};
  try {{ p = JSON.parse(localStorage.getItem(KEY) || '{{}}') || {{}}; }} catch (e) {{ p = {{}}; }}
  const asked = new URL(location.href).searchParams.get('lang');
  if (asked && asked in PAGES) {{ p.lang = asked; localStorage.setItem(KEY, JSON.stringify(p)); }}
  document.body.classList.toggle('dark', p.theme === 'dark');
  document.documentElement.setAttribute('lang', LANG === 'zh' ? 'zh-CN' : 'en');
  if (p.lang && p.lang !== LANG && p.lang in PAGES) {{
    location.replace({_root_js()} + '/' + PAGES[p.lang]);
  }}
}}
"""


def switch_js(target: str, pages: dict[str, str]) -> str:
    """Remember `target` and go to its page."""
    return f"""
() => {{
  const KEY = {json.dumps(KEY)};
  let p = {{}};
  try {{ p = JSON.parse(localStorage.getItem(KEY) || '{{}}') || {{}}; }} catch (e) {{ p = {{}}; }}
  p.lang = {json.dumps(target)};
  localStorage.setItem(KEY, JSON.stringify(p));
  location.assign({_root_js()} + '/' + {json.dumps(pages[target])});
}}
"""


THEME_JS = f"""
() => {{
  const KEY = {json.dumps(KEY)};
  let p = {{}};
  try {{ p = JSON.parse(localStorage.getItem(KEY) || '{{}}') || {{}}; }} catch (e) {{ p = {{}}; }}
  p.theme = document.body.classList.contains('dark') ? 'light' : 'dark';
  document.body.classList.toggle('dark', p.theme === 'dark');
  localStorage.setItem(KEY, JSON.stringify(p));
}}
"""
