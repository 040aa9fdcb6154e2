"""Web pages: the built SPA (frontend/dist) with index.html fallback, or a redirect."""
