"""The pages' Content-Security-Policy: scripts only from this server, never inline. The hosted chat page
(/c/<token>) may also show a bot's images from https sites (a Rasa response's `image`, checked to be an
absolute http(s) link when stored: models/conversations/rich.py), as the widget does on the embedding site."""

from __future__ import annotations


def policy(img_src: str = "'self' data:") -> str:
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {img_src}; connect-src 'self' ws: wss:; frame-ancestors 'self'; base-uri 'none'; "
            "form-action 'self'")


CSP = policy()
HOSTED_CHAT_CSP = policy("'self' data: https:")
