"""Integrations with other systems: outgoing webhooks (`catalog`: the events and their JSON,
`subscriptions`, `deliveries`: durable, retried, logged) and conversation actions (`actions`).
The HTTP requests themselves are made by `connectors/webhooks_out.py`, through the outbound guard."""
