"""The bot studio: the admin's loop over the training data, framework-free (the console wraps it).

- `project`: read and edit the Rasa files of `data/` in place (round-trip YAML: comments, order and
  layout survive), validate a change before anything is written, write atomically;
- `versions`: every change of the data, who/when/what, with the files as they were after it;
- `runs`: training and evaluation jobs with progress, for both engines;
- `models`: trained models of both engines, activation and rollback;
- `handoffs`: customer messages that led to a handoff, grouped, to learn from.
"""
