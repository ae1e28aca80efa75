"""Runtime: the reviewer process that consumes jobs.

Health port, bounded consumer loops, the intake (webhook → job) and review workers, and the one mapping of
a review's result onto JetStream (ack, nak with delay, dead letter + term). Knows the queue only as
:class:`~argoai_reviewer.runtime.delivery.JobQueue` and the review as a
:class:`~argoai_reviewer.runtime.worker.ReviewRunner`; the wiring assembles both.
"""
