"""Figures and reports (matplotlib); imported only by the CLI and by users who ask for a picture."""
