"""What people and admins ask about: access and quotas, /history, /status, /stats, /balance and
the stored defaults of /settings.

Imports bot.drafts, bot.tasks, bot.evolink, bot.telegram, bot.runtime and storage.
"""
