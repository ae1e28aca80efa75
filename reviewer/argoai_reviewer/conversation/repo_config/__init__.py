"""In-repository configuration (``.github/argoai.yaml``): the safe subset (``model``)
and reading it (``cache``).
"""
