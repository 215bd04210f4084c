"""Invoices and checkouts sent in a conversation and paid through a provider: see docs/invoices.md."""
