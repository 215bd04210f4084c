"""Inboxes: where a conversation lands. `routing` finds (and lazily makes) the inbox a new
conversation belongs to; `options` checks a webchat widget's settings; `manage` is what admins do."""
