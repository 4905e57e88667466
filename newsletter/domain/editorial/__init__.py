"""Pure editorial decisions: financing and event facts, story clusters, key points."""
