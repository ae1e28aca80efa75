"""What the pull request tells ArgoAI back: rejected findings (👎, ``dismiss``) and findings fixed by a push.

Both read the record and the threads of ArgoAI's own comments; neither decides what a review contains.
"""
