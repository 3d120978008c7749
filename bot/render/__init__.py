"""Pure rendering: reports and comparisons to terminal text, Block Kit and files."""
