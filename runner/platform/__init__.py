"""The platform layer: the HTTP client (the one aiohttp boundary), request pacing, TLS and auth."""
