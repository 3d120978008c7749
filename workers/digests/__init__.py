"""Watch lists and weekly digests: when a channel's digest is due (pure), and what it says (pure)."""
