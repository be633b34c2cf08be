"""The page's link: a "Copy link" button on every page, and embed mode for an iframe in slides.

A page's link already carries only the settings that differ from their defaults (see
:func:`cnnviz.ui.state.short_link`), so the button copies the address bar as it is. Embed mode is
Streamlit's own ``?embed=true`` (no header, toolbar or padding) plus what it leaves: the page
navigation and the sidebar. ``?embed=1`` is accepted too; Streamlit reads only ``true`` and hides
the ``embed`` parameter from the app, so the browser turns ``1`` into ``true`` on arrival.
"""
from __future__ import annotations

import streamlit as st

# The browser's first address (performance's navigation entry) still has ?embed=1 after Streamlit has rewritten
# the address bar, so the alias survives whatever the first run does to the query string.
_SCRIPT = """
<script>
(() => {
  const first = new URL(performance.getEntriesByType("navigation")[0]?.name || location.href);
  const now = new URLSearchParams(location.search);
  if (first.searchParams.get("embed") === "1" && now.get("embed") !== "true") {
    now.set("embed", "true");
    location.replace(location.pathname + "?" + now.toString());
    return;
  }
  if (window.cnnvizCopyLink) return;
  window.cnnvizCopyLink = true;
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.cnnviz-copy");
    if (!button) return;
    const link = location.href;
    try {
      await navigator.clipboard.writeText(link);
      button.textContent = "Link copied";
    } catch (error) {
      // http:// on a classroom server is not a secure context: no clipboard, so show the link to copy by hand
      window.prompt("Copy this link", link);
    }
    setTimeout(() => { button.textContent = "Copy link"; }, 2000);
  });
})();
</script>
"""
_STYLE = """
<style>
[data-testid="stElementContainer"]:has(.cnnviz-copy) { height: 0; margin-bottom: -1rem; }
button.cnnviz-copy { position: fixed; top: .75rem; right: 4rem; z-index: 999991; font-size: .85rem;
  padding: .2rem .8rem; border: 1px solid #ccc; border-radius: .5rem; background: white; color: #31333f;
  cursor: pointer; }
button.cnnviz-copy:hover { border-color: #ff4b4b; color: #ff4b4b; }
</style>
"""
_EMBED_STYLE = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"]
{ display: none !important; }
</style>
"""


def copy_link() -> None:
    """The "Copy link" button at the top right of the page (and the ``embed=1`` alias)."""
    st.html(_STYLE + _SCRIPT + '<button class="cnnviz-copy" title="Copy this page\'s link with its settings">'
            'Copy link</button>', unsafe_allow_javascript=True)


def embedded() -> bool:
    """Whether the page is shown in embed mode (``?embed=true``, or ``?embed=1`` once the browser has turned it)."""
    return bool(st.context.is_embedded)


def embed_chrome() -> None:
    """Hide what Streamlit's embed mode leaves: the sidebar and its open arrow (the navigation is hidden by
    ``st.navigation(position="hidden")``)."""
    st.html(_EMBED_STYLE)
