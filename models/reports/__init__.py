"""Reports built from the events Parley records: agents (`agents`), live chat (`live`), the bot (`bot`),
their definitions (`definitions`), what they share (`query`), their JSON and CSV forms (`render`), and
conversation exports and transcripts (`export`)."""
