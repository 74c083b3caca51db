"""Ask the authors in Slack: a Bolt app over the same index and query log as the web app (`python -m assistant.slack`)."""
