"""What webchat visitors tell us besides messages: the pre-chat form and the end-of-chat rating."""
