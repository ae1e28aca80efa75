"""The reviewer: turns pull request events into one correct, anchored review per head commit."""
