"""Local: ``argoai review`` of a git range in a local checkout, through the same analysis as a GitHub review.

Reads the change with git (never executing anything from the repository) and runs ``analysis`` on it.
"""
