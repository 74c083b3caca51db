"""The web app: pure rendering, one request contract, the Gradio page, the JSON API, and the server."""
