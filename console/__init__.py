"""The agent console: Flask app, REST API, realtime, pages."""
