"""Media: fetch, data URLs, images."""
