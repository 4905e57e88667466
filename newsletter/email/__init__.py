"""Mail out: render, message templates, transports, signing, notices, links, tokens."""
