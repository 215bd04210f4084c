"""A conversation's internal discussion among invited agents (`discussions`), @mentions (`mentions`), and
the system entries that transfers, handoffs and bound records post into it (`journal`)."""
