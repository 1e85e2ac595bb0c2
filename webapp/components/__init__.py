"""The page's parts, one idea per module."""
