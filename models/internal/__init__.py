"""Internal chat (Converso): users write to each other one to one, or to themselves as notes.

Kept apart from customer conversations in tables of its own (models/schema/internal.py): `chats` (open,
list, who may read, admins delete), `messages` (send, page, read marks), `files` (upload, attach, fetch).
"""
