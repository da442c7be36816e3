"""The Telegram adapter: updates in (their order, the inbox, the webhook), messages and files
out and down, and every text in both languages.

Imports only bot.web (the webhook's guards), bot.runtime and storage: the flow calls it,
never the reverse.
"""
