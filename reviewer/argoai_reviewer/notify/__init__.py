"""Notifications: which events go to which target (the policy's routes), and what each platform is sent.

``routing``  builds one :class:`~argoai_core.models.notification.Notification` per (event, target) and
             publishes it to the notifications stream (never blocking or failing a review);
``text``     makes untrusted text (titles, model output, reasons) inert on Slack, on Discord and in JSON;
``formats``  Slack Block Kit, Discord embeds, and the signed JSON of the generic ``webhook`` kind.

Sending (retries, rate limits, dead letters) is the runtime's :mod:`argoai_reviewer.runtime.notify_worker`.
"""
