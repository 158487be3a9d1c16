"""The operator console (Textual). Headless modules never import this package."""
