"""The `rasa` engine: Rasa 3.6 in its own Python 3.10 environment, spoken to over HTTP.

- `config`: the `PARLEY_RASA_*` knobs;
- `store`: trained models, versioned beside the embedded ones, with an `active` pointer;
- `trainer`: `rasa train` as a subprocess, on a snapshot of `data/`, with progress;
- `server`: a supervised local `rasa run --enable-api` (or an external one);
- `client`: the few HTTP calls Parley makes;
- `engine`: the `Engine` (one conversation = one Rasa tracker) and the mapping of Rasa's fallbacks
  and handoff intents/actions onto Parley's handoff reasons;
- `tracker_sync`: pauses the tracker while a person owns the conversation, resumes it on return;
- `build` (`PARLEY_BOT_ENGINES=rasa`), `evaluation` and `cli` (`parley bot ... --engine rasa`).

Nothing here imports Rasa: Parley runs on Python 3.11+, Rasa 3.6 needs 3.10.
"""
