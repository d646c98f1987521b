"""Platform auth: token sources and refresh, the login API, login crypto and the token file."""
