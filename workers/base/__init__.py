"""Base-image attribution: which image an image is built on, and which of its findings that base brings."""
