"""The commands: one module each, called by cli.py; nothing below imports them."""
