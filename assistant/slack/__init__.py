"""Ask the authors in Slack: a Bolt app over the web app's index and query log (`python -m assistant.slack`)."""
