"""A reusable Django app: the Anthropic Messages API in front of an OpenAI Responses API upstream."""
