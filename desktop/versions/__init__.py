"""Model versions: the models view (activate, roll back, import, export, model card, evaluate on a folder)."""
