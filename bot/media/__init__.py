"""Every decode and encode of a user's file, in a pool of worker processes: probing, images,
video and audio, checked against the API's limits.

Imports bot.limits only: the worker processes load nothing else of the bot.
"""
