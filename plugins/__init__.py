"""The zoo's built-in parts, one folder per kind. Importing this package registers them; it is
declared in the entry-point group ``zoo.plugins`` as ``builtin``, exactly as a third-party plugin."""
