"""Reading models: stored, loaded and trained (scikit-learn, only when training)."""
