"""The web layer: HTTP routes and the WebSocket; no torch logic lives here."""
