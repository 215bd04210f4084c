"""Every report metric's definition, written once: the API sends these sentences with each report, the
page shows them on hover, and docs/reports.md repeats them word for word (tests/test_reports.py checks).

The numbers follow the live counters' rules (models/conversations/inbox.py): a *reply* is a public
message by a human agent (a private note or a bot message is not one), a conversation is *handed off*
when the human side takes it (`handed_off_at`, a handoff packet), and *restricted* conversations count
in every aggregate (reports show numbers, never a conversation's text).
"""

from __future__ import annotations

AGENTS: dict[str, str] = {
    "conversations_handled": "Conversations in which the agent sent at least one reply (a public message; "
                             "private notes do not count) during the period.",
    "replies_sent": "Public messages the agent sent during the period; private notes are not replies.",
    "first_response_median": "Median seconds from a conversation's handoff (or from the agent's assignment, "
                             "when later) to the agent's first reply, for conversations handed off during "
                             "the period whose first human reply was this agent's.",
    "first_response_p90": "90th percentile of the same first response times, in seconds.",
    "resolution_median": "Median seconds from handoff to close of the handed-off conversations closed during "
                         "the period, counted for each agent assigned at the close.",
    "transfers_in": "Transfers completed to the agent during the period (accepted requests and direct "
                    "reassignments).",
    "transfers_out": "Transfers completed away from the agent during the period, to a colleague or to "
                     "another team's queue.",
    "offers_expired": "Chats offered to the agent by auto-assignment that the agent let expire during the "
                      "period.",
    "transfers_declined": "Transfer requests to the agent that the agent rejected or let expire during the "
                          "period.",
    "ratings": "End-of-chat ratings customers gave during the period to conversations the agent was "
               "assigned when they closed (inboxes with the rating turned on).",
    "rating_avg": "Average of those ratings (1 to 5), to two decimals; empty when there are none.",
    "online_seconds": "Seconds the agent was online during the period, from the availability history "
                      "recorded since migration 0015_reports.",
    "away_seconds": "Seconds the agent was away during the period, from the same availability history.",
    "concurrent_average": "Average number of open conversations assigned to the agent over the period, "
                          "from the assignment history recorded since migration 0015_reports.",
    "concurrent_peak": "Largest number of open conversations assigned to the agent at one moment of the "
                       "period, from the same assignment history.",
}

LIVE: dict[str, str] = {
    "started": "Conversations that started during the period.",
    "handed_off": "Handoffs to the human side during the period (one per handoff packet), with their "
                  "reasons.",
    "waiting_median": "Median seconds from handoff to the first assignment to an agent, for conversations "
                      "handed off during the period and assigned since.",
    "waiting_p90": "90th percentile of the same queue waiting times, in seconds.",
    "abandoned": "Conversations handed off during the period that were closed before any human agent "
                 "replied.",
    "auto_completed": "Conversations completed automatically by the idle or waiting timers during the "
                      "period.",
    "reopened": "Closed conversations reopened during the period.",
    "busiest_hours": "Conversations started during the period by weekday and hour, in the report's time "
                     "zone.",
}

BOT: dict[str, str] = {
    "conversations": "Conversations started during the period in which the bot replied at least once.",
    "resolved": "Of those, conversations the bot resolved: they ended (closed, or left with the bot "
                "without any message for 24 hours) without a handoff, were not reopened, and the same "
                "customer was not handed off again within 24 hours after the end.",
    "containment_rate": "Resolved conversations divided by the bot's conversations.",
    "handed_off": "Of the bot's conversations, those handed off to the human side, by the reason and the "
                  "intent of their first handoff.",
    "handoff_rate": "Handed-off conversations divided by the bot's conversations.",
    "fallback_rate": "Bot answers during the period that asked the customer to rephrase (intent "
                     "nlu_fallback), divided by all bot answers.",
    "followed_by_handoff": "The intents of the bot's last answer before a handoff, most frequent first, "
                           "over the handoffs of the bot's conversations.",
    "drafts": "Reply drafts made for agents (agent assist) during the period.",
    "draft_acceptance": "Drafts the agent sent, unchanged or edited, divided by the drafts the agent "
                        "decided on.",
}

DEFINITIONS: dict[str, dict[str, str]] = {"agents": AGENTS, "live": LIVE, "bot": BOT}

NOTES: dict[str, list[str]] = {
    "agents": [
        "Ratings exist only for webchat inboxes that ask for them (the inbox's rating option), from "
        "migration 0022_prechat on.",
        "Availability history is recorded from migration 0015_reports on; time before it is not known.",
        "Assignment history is recorded from migration 0015_reports on (assignments standing then were "
        "carried over); earlier assignments undone since are not known.",
    ],
    "live": [],
    "bot": [],
}

# Each report's main metric: what its chart shows first (docs/reports.md, "The page").
MAIN_METRIC: dict[str, str] = {"agents": "conversations_handled", "live": "started", "bot": "containment_rate"}

# The group_by values each report accepts (the first is the default).
GROUPINGS: dict[str, tuple[str, ...]] = {
    "agents": ("agent", "team", "day", "week"),
    "live": ("team", "inbox", "channel", "day", "week", "intent"),
    "bot": ("intent", "team", "inbox", "channel", "day", "week"),
}

FALLBACK_INTENT = "nlu_fallback"
RESOLUTION_WINDOW_SECONDS = 24 * 3600
