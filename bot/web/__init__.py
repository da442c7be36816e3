"""The bot's web server (uvicorn, as the bot runs it): its routes (media, callbacks, health,
metrics), and what guards them from strangers.

Imports bot.hosting (signed media), bot.evolink and storage.
"""
