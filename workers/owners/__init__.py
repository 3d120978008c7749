"""Who owns an image: the routing file, the image's labels, the channels that watch it."""
