"""Answers: questions to the model in a pull request, answered where they were asked.

``@<bot> ask <question>`` in the conversation is answered there, with the pull request's diff as context; in
a thread on one of ArgoAI's inline comments any other mention of the bot is a question about that finding,
answered in the thread with the finding, the code it is anchored on at the current head, the thread's
earlier messages and related code from the head's code index. ``model`` holds the answer's shape and the
Protocol of the model; ``context`` gathers what the prompt shows; ``prompts`` renders it (templates in
``templates/``); ``answering`` carries a question from the job to one sanitized reply.
"""
