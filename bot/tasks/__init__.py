"""From a draft to a delivered video: the paid submit (at most once), reconciling an unknown
outcome, paced tracking, delivery and re-runs.

Imports bot.drafts, bot.account (access), bot.evolink, bot.hosting, bot.media, bot.telegram,
bot.web (fetch guards), bot.runtime and storage.
"""
